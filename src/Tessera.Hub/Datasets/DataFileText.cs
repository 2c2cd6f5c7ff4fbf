using System.IO.Compression;
using System.Text;
using Tessera.Formats;

namespace Tessera.Hub.Datasets;

/// <summary>
/// The text of a JSON Lines or CSV data file, decompressed on the fly when its name ends in <c>.gz</c> (as the Hub's
/// <c>train.jsonl.gz</c>); a damaged gzip stream becomes a <see cref="TesseraFormatException"/> naming the file.
/// </summary>
internal sealed class DataFileText : TextReader
{
    readonly StreamReader inner;
    readonly string path;

    DataFileText(string path)
    {
        this.path = path;
        Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (HubDataset.IsGzip(path)) stream = new GZipStream(stream, CompressionMode.Decompress);
        inner = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
    }

    public static TextReader Open(string path) => new DataFileText(path);

    public override int Read()
    {
        try { return inner.Read(); }
        catch (InvalidDataException e) { throw Damaged(e); }
    }

    public override int Peek()
    {
        try { return inner.Peek(); }
        catch (InvalidDataException e) { throw Damaged(e); }
    }

    public override string? ReadLine()
    {
        try { return inner.ReadLine(); }
        catch (InvalidDataException e) { throw Damaged(e); }
    }

    TesseraFormatException Damaged(InvalidDataException e) => new(path, $"not a valid gzip file ({e.Message})", e);

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
