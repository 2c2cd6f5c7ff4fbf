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
    const int DtString = 7, DtFloat = 1;
    const int PluginContent = 2;
    // Field numbers from tensorboard/plugins/hparams/plugin_data.proto, api.proto and google/protobuf/struct.proto.
    const string ExperimentTag = "_hparams_/experiment", SessionStartTag = "_hparams_/session_start_info", SessionEndTag = "_hparams_/session_end_info";
    const int PluginDataVersion = 1, PluginDataExperiment = 2, PluginDataSessionStart = 3, PluginDataSessionEnd = 4;
    const int ExperimentTimeCreated = 3, ExperimentHParamInfos = 4, ExperimentMetricInfos = 5;
    const int HParamInfoName = 1, HParamInfoType = 4;
    const int DataTypeString = 1, DataTypeBool = 2, DataTypeFloat64 = 3;
    const int MetricInfoName = 1, MetricNameTag = 2;
    const int SessionStartHParams = 1, SessionStartTime = 5, MapKey = 1, MapValue = 2;
    const int SessionEndStatus = 1, SessionEndTime = 2, StatusSuccess = 1, StatusFailure = 2;
    const int ValueNull = 1, ValueNumber = 2, ValueString = 3, ValueBool = 4;

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

    /// <summary>
    /// Writes hyperparameters and the names of the metrics that describe a run as the TensorBoard HParams plugin's
    /// <c>_hparams_/experiment</c> and <c>_hparams_/session_start_info</c> summaries, so the HParams tab lists this
    /// run (the log folder is the session). Log the metrics themselves with <see cref="AddScalar"/> under the same
    /// tags; call <see cref="AddHParamsSessionEnd"/> when the run ends.
    /// </summary>
    /// <param name="hyperparameters">Name → value; numbers (any primitive numeric type) are written as numbers,
    /// booleans as booleans, null as null, anything else as its invariant-culture string.</param>
    /// <param name="metricTags">Scalar tags the HParams tab shows as metric columns, e.g. <c>val/accuracy</c>.</param>
    /// <param name="startTime">When the run started; now when null.</param>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public void AddHParams(IReadOnlyDictionary<string, object?> hyperparameters, IEnumerable<string> metricTags, DateTimeOffset? startTime = null)
    {
        ArgumentNullException.ThrowIfNull(hyperparameters);
        ArgumentNullException.ThrowIfNull(metricTags);
        double start = startTime is { } t ? t.ToUnixTimeMilliseconds() / 1000.0 : Now();
        var experiment = new ProtoWriter().Double(ExperimentTimeCreated, start);
        foreach (var (name, value) in hyperparameters)
        {
            var info = new ProtoWriter().String(HParamInfoName, name);
            int type = HParamValue(value, out _) switch { ValueNumber => DataTypeFloat64, ValueBool => DataTypeBool, ValueString => DataTypeString, _ => 0 };
            if (type != 0) info.Int64(HParamInfoType, type);
            experiment.Message(ExperimentHParamInfos, info);
        }
        foreach (string tag in metricTags)
        {
            // TensorBoard splits a metric into (group = the run subfolder holding the scalar, tag); "" is this folder.
            var metricName = new ProtoWriter().String(MetricNameTag, tag);
            experiment.Message(ExperimentMetricInfos, new ProtoWriter().Message(MetricInfoName, metricName));
        }
        WriteHParamsSummary(ExperimentTag, PluginDataExperiment, experiment, 0);

        var session = new ProtoWriter();
        foreach (var (name, value) in hyperparameters)
        {
            HParamValue(value, out var encoded);
            session.Message(SessionStartHParams, new ProtoWriter().String(MapKey, name).Message(MapValue, encoded));
        }
        session.Double(SessionStartTime, start);
        WriteHParamsSummary(SessionStartTag, PluginDataSessionStart, session, 0);
    }

    /// <summary>Writes the HParams plugin's <c>_hparams_/session_end_info</c> summary: how the run ended.</summary>
    /// <param name="succeeded">True for success, false for failure.</param>
    /// <param name="endTime">When the run ended; now when null.</param>
    /// <param name="step">Step of the event (the last training step).</param>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public void AddHParamsSessionEnd(bool succeeded, DateTimeOffset? endTime = null, long step = 0)
    {
        double end = endTime is { } t ? t.ToUnixTimeMilliseconds() / 1000.0 : Now();
        var info = new ProtoWriter().Int64(SessionEndStatus, succeeded ? StatusSuccess : StatusFailure).Double(SessionEndTime, end);
        WriteHParamsSummary(SessionEndTag, PluginDataSessionEnd, info, step);
    }

    // google.protobuf.Value for a hyperparameter; returns which oneof field it used.
    static int HParamValue(object? value, out ProtoWriter encoded)
    {
        encoded = new ProtoWriter();
        switch (value)
        {
            case null: encoded.Int64(ValueNull, 0); return ValueNull;
            case bool b: encoded.Int64(ValueBool, b ? 1 : 0); return ValueBool;
            case byte or sbyte or short or ushort or int or uint or long or ulong or float or double or decimal:
                encoded.Double(ValueNumber, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)); return ValueNumber;
            case IFormattable f: encoded.String(ValueString, f.ToString(null, System.Globalization.CultureInfo.InvariantCulture)); return ValueString;
            default: encoded.String(ValueString, value.ToString() ?? ""); return ValueString;
        }
    }

    void WriteHParamsSummary(string tag, int dataField, ProtoWriter data, long step)
    {
        byte[] content = new ProtoWriter().Int64(PluginDataVersion, 0).Message(dataField, data).ToArray();
        var metadata = new ProtoWriter().Message(MetadataPluginData, new ProtoWriter().String(PluginName, "hparams").Bytes(PluginContent, content));
        // TensorBoard's own writer attaches an empty float tensor; readers only look at the metadata.
        var tensor = new ProtoWriter().Int64(TensorDType, DtFloat).Message(TensorShape, new ProtoWriter());
        var summaryValue = new ProtoWriter().String(ValueTag, tag).Message(ValueTensor, tensor).Message(ValueMetadata, metadata);
        WriteSummary(summaryValue, step, null);
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
