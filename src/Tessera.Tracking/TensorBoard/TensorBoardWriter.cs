using System.Buffers.Binary;
using System.Text;

namespace Tessera.Tracking.TensorBoard;

/// <summary>
/// Writes a TensorBoard event file (<c>events.out.tfevents.{unixSeconds}.{hostname}</c>) that TensorBoard's scalar and
/// text dashboards read. Each record is TFRecord-framed (length, masked CRC-32C of the length, data, masked CRC-32C of
/// the data) and holds an <c>Event</c> protobuf encoded by hand.
/// </summary>
/// <remarks>Thread-safe. Records are buffered; call <see cref="Flush"/> to make them visible to a running TensorBoard.</remarks>
public sealed class TensorBoardWriter : IDisposable
{
    // Field numbers from tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto.
    const int EventWallTime = 1, EventStep = 2, EventFileVersion = 3, EventSummary = 5;
    const int SummaryValue = 1;
    const int ValueTag = 1, ValueSimpleValue = 2, ValueTensor = 8, ValueMetadata = 9;
    const int MetadataPluginData = 1, PluginName = 1;
    const int TensorDType = 1, TensorShape = 2, TensorStringVal = 8;
    const int DtString = 7;

    readonly FileStream _stream;
    readonly Lock _gate = new();
    bool _disposed;

    /// <summary>Creates <paramref name="logDir"/> if needed and starts a new event file in it.</summary>
    /// <exception cref="IOException">The file cannot be created.</exception>
    public TensorBoardWriter(string logDir)
    {
        Directory.CreateDirectory(logDir);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string baseName = Path.Combine(logDir, $"events.out.tfevents.{now}.{Environment.MachineName}");
        string path = baseName;
        // Two writers started in the same second must not share a file; TensorBoard reads any name containing "tfevents".
        for (int i = 1; File.Exists(path); i++) path = $"{baseName}.{i}";
        _stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);
        FilePath = path;
        WriteRecord(new ProtoWriter().Double(EventWallTime, Now()).String(EventFileVersion, "brain.Event:2").ToArray());
    }

    /// <summary>Full path of the event file being written.</summary>
    public string FilePath { get; }

    /// <summary>Logs a scalar, shown in TensorBoard's Scalars dashboard under <paramref name="tag"/>.</summary>
    /// <param name="tag">Series name, e.g. <c>train/loss</c>.</param>
    /// <param name="value">The value.</param>
    /// <param name="step">Global step (x axis).</param>
    /// <param name="wallTime">Seconds since the Unix epoch; now when null.</param>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public void AddScalar(string tag, float value, long step, double? wallTime = null)
    {
        ArgumentNullException.ThrowIfNull(tag);
        var summaryValue = new ProtoWriter().String(ValueTag, tag).Float(ValueSimpleValue, value);
        WriteSummary(summaryValue, step, wallTime);
    }

    /// <summary>Logs text (markdown), shown in TensorBoard's Text dashboard.</summary>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public void AddText(string tag, string text, long step, double? wallTime = null)
    {
        ArgumentNullException.ThrowIfNull(tag);
        ArgumentNullException.ThrowIfNull(text);
        var metadata = new ProtoWriter().Message(MetadataPluginData, new ProtoWriter().String(PluginName, "text"));
        var tensor = new ProtoWriter()
            .Int64(TensorDType, DtString)
            .Message(TensorShape, new ProtoWriter())
            .Bytes(TensorStringVal, Encoding.UTF8.GetBytes(text));
        var summaryValue = new ProtoWriter().String(ValueTag, tag).Message(ValueTensor, tensor).Message(ValueMetadata, metadata);
        WriteSummary(summaryValue, step, wallTime);
    }

    /// <summary>Pushes buffered records to the file.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _stream.Flush();
        }
    }

    /// <summary>Flushes and closes the file.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _stream.Dispose();
        }
    }

    void WriteSummary(ProtoWriter summaryValue, long step, double? wallTime)
    {
        var summary = new ProtoWriter().Message(SummaryValue, summaryValue);
        byte[] evt = new ProtoWriter()
            .Double(EventWallTime, wallTime ?? Now())
            .Int64(EventStep, step)
            .Message(EventSummary, summary)
            .ToArray();
        WriteRecord(evt);
    }

    void WriteRecord(byte[] data)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.ComputeMasked(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.ComputeMasked(data));
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _stream.Write(header);
            _stream.Write(data);
            _stream.Write(footer);
        }
    }

    static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
}
