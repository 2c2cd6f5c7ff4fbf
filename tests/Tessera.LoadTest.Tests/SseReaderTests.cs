using System.Text;

namespace Tessera.LoadTest.Tests;

public class SseReaderTests
{
    /// <summary>A stream that hands out its bytes in the given piece sizes (cycled), as a network read would.</summary>
    sealed class PiecewiseStream(byte[] bytes, int[] pieces) : Stream
    {
        int position, next;
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (position == bytes.Length) return 0;
            int n = Math.Min(Math.Min(count, pieces[next++ % pieces.Length]), bytes.Length - position);
            Array.Copy(bytes, position, buffer, offset, n);
            position += n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    static async Task<List<(string Type, string Data)>> Read(string text, int[] pieces)
    {
        var events = new List<(string, string)>();
        await foreach (var e in SseReader.ReadAsync(new PiecewiseStream(Encoding.UTF8.GetBytes(text), pieces), TestContext.Current.CancellationToken))
            events.Add((e.Type, e.Data));
        return events;
    }

    // The expected events are written out by hand from the HTML standard's "interpreting an event stream" rules.
    const string Stream =
        "\uFEFFdata: {\"a\":1}\n\n" +                       // BOM at the start is dropped
        ": a comment line\r\n\r\n" +                          // comment only: no event
        "event: update\r\ndata: first\r\ndata:second\r\n\r\n" + // two data lines joined by LF; one leading space removed only
        "data:  two spaces\r\r" +                             // CR line ends
        "data\n\n" +                                          // a field with no colon: empty data, still an event
        "id: 7\nretry: 10\n\n" +                              // no data: no event
        "data: é ü 中\n\n" +                                  // multi-byte UTF-8 split across reads
        "data: [DONE]\n\n" +
        "data: unfinished";                                   // no blank line before the end: dropped

    static readonly (string, string)[] expected =
    [
        ("message", "{\"a\":1}"),
        ("update", "first\nsecond"),
        ("message", " two spaces"),
        ("message", ""),
        ("message", "é ü 中"),
        ("message", "[DONE]"),
    ];

    [Theory]
    [InlineData(new[] { 100000 })]
    [InlineData(new[] { 1 })]
    [InlineData(new[] { 2 })]
    [InlineData(new[] { 3, 1, 7 })]
    [InlineData(new[] { 5, 13, 1, 2 })]
    public async Task Events_are_the_same_however_the_bytes_are_split(int[] pieces)
    {
        Assert.Equal(expected, await Read(Stream, pieces));
    }

    [Fact]
    public async Task A_CR_at_the_end_of_a_read_ends_the_line_without_waiting_for_the_next_read()
    {
        // "data: x\r" then "\r": the event is complete after the second CR; the LF that would follow never comes.
        var events = await Read("data: x\r\rdata: y\r\n\r\n", [8, 1, 100]);
        Assert.Equal([("message", "x"), ("message", "y")], events);
    }

    [Fact]
    public async Task A_line_over_the_limit_is_an_error_not_a_huge_allocation()
    {
        string huge = "data: " + new string('x', 5000) + "\n\n";
        var e = await Assert.ThrowsAsync<InvalidDataException>(async () =>
        {
            await foreach (var _ in SseReader.ReadAsync(new MemoryStream(Encoding.UTF8.GetBytes(huge)), TestContext.Current.CancellationToken, maxLineBytes: 1000)) { }
        });
        Assert.Contains("1000", e.Message);
    }
}
