using Tessera.Formats.SafeTensors;

namespace Tessera.Formats.Tests.SafeTensors;

public sealed class SafeTensorsWriterTests : IDisposable
{
    readonly SafeTensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Failing_writer_leaves_existing_file_intact()
    {
        string path = _files.PathFor("keep.safetensors");
        SafeTensorsWriter.Write(path, [new SafeTensorEntry("old", SafeTensorDType.U8, [2], new byte[] { 4, 2 })]);
        byte[] before = File.ReadAllBytes(path);

        Assert.Throws<IOException>(() => SafeTensorsWriter.Write(path,
        [
            new SafeTensorEntry("a", SafeTensorDType.U8, [1], new byte[] { 1 }),
            new SafeTensorEntry("b", SafeTensorDType.F32, [4], _ => throw new IOException("disk on fire")),
        ]));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_files.Dir)); // no temporary file left behind
    }

    [Fact]
    public void Writer_that_writes_too_few_bytes_is_rejected_with_counts()
    {
        string path = _files.PathFor("short.safetensors");
        var e = Assert.Throws<TesseraFormatException>(() => SafeTensorsWriter.Write(path,
            [new SafeTensorEntry("w", SafeTensorDType.F32, [2, 2], s => s.Write(new byte[12]))]));
        Assert.Equal($"{path}: tensor 'w': wrote 12 bytes, expected 16 for dtype F32 with shape [2, 2]", e.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Writer_that_writes_too_many_bytes_is_stopped()
    {
        string path = _files.PathFor("long.safetensors");
        var e = Assert.Throws<TesseraFormatException>(() => SafeTensorsWriter.Write(path,
            [new SafeTensorEntry("w", SafeTensorDType.I8, [3], s => s.Write(new byte[4]))]));
        Assert.Equal($"{path}: tensor 'w': writer tried to write more than the 3 bytes its dtype and shape need", e.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Duplicate_reserved_and_negative_entries_are_rejected_before_writing()
    {
        string path = _files.PathFor("bad.safetensors");
        var dup = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path,
            [new SafeTensorEntry("x", SafeTensorDType.U8, [1], new byte[1]), new SafeTensorEntry("x", SafeTensorDType.U8, [1], new byte[1])]));
        Assert.StartsWith("tensor 'x' appears more than once", dup.Message);
        var reserved = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path,
            [new SafeTensorEntry("__metadata__", SafeTensorDType.U8, [1], new byte[1])]));
        Assert.StartsWith("'__metadata__' is reserved", reserved.Message);
        var negative = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path,
            [new SafeTensorEntry("n", SafeTensorDType.U8, [2, -1], new byte[1])]));
        Assert.StartsWith("tensor 'n': shape [2, -1] has a negative dimension", negative.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Streamed_writes_in_pieces_are_accepted()
    {
        string path = _files.PathFor("pieces.safetensors");
        SafeTensorsWriter.Write(path, [new SafeTensorEntry("x", SafeTensorDType.U8, [5], s =>
        {
            s.WriteByte(1);
            s.Write(new byte[] { 2, 3 }, 0, 2);
            s.Write([4, 5]);
        })]);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, file.GetSpan("x").ToArray());
    }
}
