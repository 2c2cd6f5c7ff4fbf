using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;

namespace Tessera.LoadTest;

/// <summary>
/// Reads a <c>text/event-stream</c> body as the HTML standard's event-stream parser does: lines end in LF, CRLF or CR
/// (also when a read splits them), <c>:</c> starts a comment, <c>data:</c> lines accumulate, a blank line dispatches
/// the event, and an event left unfinished at the end of the stream is dropped. Each event carries the time its last
/// byte arrived, so a caller can time chunks as they come.
/// </summary>
public static class SseReader
{
    /// <summary>The events of <paramref name="stream"/> in order, each yielded as soon as its terminating blank line is read.</summary>
    /// <exception cref="InvalidDataException">a line is longer than <paramref name="maxLineBytes"/>.</exception>
    public static async IAsyncEnumerable<SseEvent> ReadAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken = default,
        int maxLineBytes = 1 << 20)
    {
        var buffer = new byte[8192];
        var line = new ArrayBufferWriter<byte>(256);
        var data = new StringBuilder();
        string type = "";
        bool hasData = false, skipLf = false, first = true;
        while (true)
        {
            int read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (read == 0) yield break; // an unfinished event is dropped, as the standard says
            long arrived = Stopwatch.GetTimestamp();
            int start = 0;
            for (int i = 0; i < read; i++)
            {
                byte b = buffer[i];
                if (b != (byte)'\n' && b != (byte)'\r') continue;
                if (b == (byte)'\n' && skipLf && i == start && line.WrittenCount == 0)
                {
                    // the LF of a CRLF whose CR ended the previous line (possibly in the previous read)
                    skipLf = false;
                    start = i + 1;
                    continue;
                }
                Append(line, buffer.AsSpan(start, i - start), maxLineBytes);
                start = i + 1;
                skipLf = b == (byte)'\r';
                ReadOnlySpan<byte> text = line.WrittenSpan;
                if (first && text.StartsWith("\uFEFF"u8)) text = text[3..];
                first = false;
                if (text.IsEmpty)
                {
                    if (hasData)
                    {
                        if (data.Length > 0 && data[^1] == '\n') data.Length--;
                        yield return new SseEvent(type.Length == 0 ? "message" : type, data.ToString(), arrived);
                    }
                    data.Clear();
                    type = "";
                    hasData = false;
                }
                else ProcessLine(text, data, ref type, ref hasData);
                line.ResetWrittenCount();
            }
            if (start < read)
            {
                Append(line, buffer.AsSpan(start, read - start), maxLineBytes);
                skipLf = false;
            }
        }
    }

    static void Append(ArrayBufferWriter<byte> line, ReadOnlySpan<byte> bytes, int maxLineBytes)
    {
        if (line.WrittenCount + bytes.Length > maxLineBytes)
            throw new InvalidDataException($"event-stream line longer than {maxLineBytes} bytes");
        line.Write(bytes);
    }

    static void ProcessLine(ReadOnlySpan<byte> text, StringBuilder data, ref string type, ref bool hasData)
    {
        if (text[0] == (byte)':') return; // comment (servers send these as keep-alives)
        int colon = text.IndexOf((byte)':');
        ReadOnlySpan<byte> field = colon < 0 ? text : text[..colon];
        ReadOnlySpan<byte> value = colon < 0 ? [] : text[(colon + 1)..];
        if (!value.IsEmpty && value[0] == (byte)' ') value = value[1..];
        if (field.SequenceEqual("data"u8))
        {
            data.Append(Encoding.UTF8.GetString(value)).Append('\n');
            hasData = true;
        }
        else if (field.SequenceEqual("event"u8)) type = Encoding.UTF8.GetString(value);
        // id and retry concern reconnection, which a load generator does not do; unknown fields are ignored.
    }
}
