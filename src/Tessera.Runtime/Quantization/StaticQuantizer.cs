using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Tessera.Formats;
using Tessera.Formats.Onnx;
using Tessera.Runtime.Conversion;

namespace Tessera.Runtime.Quantization;

/// <summary>
/// Static int8 quantization in QDQ form, for conv nets: Conv, Gemm and MatMul weights become int8, symmetric per
/// output channel; activations become uint8 per tensor, with ranges measured by running calibration data through
/// the float model. The result is standard ONNX (QuantizeLinear/DequantizeLinear pairs around float ops) that
/// ONNX Runtime fuses into QLinearConv, QGemm and QLinearAdd at load time.
/// </summary>
public static class StaticQuantizer
{
    /// <summary>
    /// Quantizes the model at <paramref name="inputPath"/> with ranges from <paramref name="calibration"/> (batches for
    /// the model's single float input) and writes <paramref name="outputPath"/> atomically (nothing on error).
    /// The float graph is first optimized by ONNX Runtime at the basic level (BatchNorm folded into Conv, constants
    /// folded), as ONNX Runtime's own quantization tools recommend.
    /// </summary>
    /// <returns>Nodes quantized and skipped, per-layer error against the float model, file sizes.</returns>
    /// <exception cref="FileNotFoundException">The input file does not exist.</exception>
    /// <exception cref="TesseraFormatException">The input is not an ONNX model (an .ort file, truncated, ...).</exception>
    /// <exception cref="QuantizationException">
    /// The model is already quantized, has no quantizable Conv/Gemm/MatMul, imports an opset older than 13, does not
    /// have exactly one float input, or a calibration batch does not fit that input.
    /// </exception>
    public static StaticQuantizationReport Quantize(string inputPath, string outputPath, IReadOnlyList<NamedTensor> calibration, StaticQuantizationOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        ArgumentNullException.ThrowIfNull(calibration);
        options ??= new StaticQuantizationOptions();

        var (original, inputBytes) = OnnxModelFile.Load(inputPath);
        DynamicQuantizer.EnsureNotQuantized(original, inputPath);
        long opset = original.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        if (opset < 13) throw new QuantizationException(inputPath, $"static quantization needs ai.onnx opset 13 or newer (per-channel DequantizeLinear); the model imports opset {opset}");
        if (!OnnxModelFile.AllNodes(original.Graph).Any(n => n.OpType is "Conv" or "Gemm" or "MatMul"))
            throw new QuantizationException(inputPath, "static quantization needs Conv, Gemm or MatMul nodes; the model has none, no file written");
        string inputName = CheckCalibration(original, calibration, inputPath);

        ModelProto floatModel = OptimizeBasic(inputPath);
        var model = floatModel.Clone();
        var rewriter = new QdqRewriter(model, options, inputPath);
        rewriter.Plan();

        var ranges = Calibrate(floatModel, inputName, rewriter.Activations, calibration, options.Method);
        var parameters = new Dictionary<string, (float Scale, byte ZeroPoint)>(StringComparer.Ordinal);
        foreach (string tensor in rewriter.Activations)
        {
            var (min, max) = ranges.Range(tensor, options.Method, options.Percentile);
            parameters[tensor] = Uint8Parameters(min, max);
        }
        foreach (string tensor in rewriter.Activations)
            if (rewriter.TiedTo.TryGetValue(tensor, out string? source)) parameters[tensor] = parameters[source];
        rewriter.Apply(parameters);

        var errors = LayerErrors(floatModel, model, rewriter, inputName, calibration, options.ErrorReportSamples);
        long size = model.CalculateSize();
        if (size is < 0 or > int.MaxValue) throw new QuantizationException(inputPath, "the quantized model is over 2 GB, the protobuf limit");
        AtomicFile.Write(outputPath, model.WriteTo);
        return new StaticQuantizationReport
        {
            QuantizedNodes = [.. rewriter.Compute.Select(QdqRewriter.NameOf)],
            SkippedNodes = rewriter.Skipped,
            QuantizedActivations = rewriter.Activations.Count,
            Method = options.Method,
            CalibrationSamples = calibration.Sum(b => b.Shape[0]),
            LayerErrors = errors,
            InputFileBytes = inputBytes,
            OutputFileBytes = new FileInfo(outputPath).Length,
        };
    }

    /// <summary>uint8 affine parameters for [min, max] (which contains 0): scale = (max − min) / 255, zero point = round(−min / scale).</summary>
    internal static (float Scale, byte ZeroPoint) Uint8Parameters(float min, float max)
    {
        min = Math.Min(min, 0f);
        max = Math.Max(max, 0f);
        float scale = (max - min) / 255f;
        if (!(scale > 0) || !float.IsFinite(scale)) return (1f, 0);
        return (scale, (byte)Math.Clamp(Math.Round(-min / scale), 0, 255));
    }

    static string CheckCalibration(ModelProto model, IReadOnlyList<NamedTensor> calibration, string path)
    {
        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = model.Graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        if (inputs is not [var input] || input.Type?.TensorType is not { ElemType: (int)TensorProto.Types.DataType.Float } tensorType)
            throw new QuantizationException(path, $"static quantization with calibration data needs a model with one float input; it has {inputs.Count} input(s)");
        if (calibration.Count == 0) throw new QuantizationException(path, "no calibration data given");
        var dims = tensorType.Shape?.Dim.Select(d => d.HasDimValue ? d.DimValue : -1).ToArray() ?? [];
        string expected = "[" + string.Join(", ", tensorType.Shape?.Dim.Select(d => d.HasDimValue ? d.DimValue.ToString() : d.DimParam.Length > 0 ? d.DimParam : "?") ?? []) + "]";
        for (int b = 0; b < calibration.Count; b++)
        {
            var batch = calibration[b];
            bool fits = batch.DataType == TensorDataType.Float32 && batch.Rank == dims.Length
                && dims.Select((d, i) => d < 0 || d == batch.Shape[i]).All(ok => ok);
            if (!fits)
                throw new QuantizationException(path, $"calibration batch {b} is {batch.DataType} [{string.Join(", ", batch.Shape)}]; input '{input.Name}' takes float {expected}, no file written");
        }
        return input.Name;
    }

    static ModelProto OptimizeBasic(string inputPath)
    {
        string temp = Path.Combine(Path.GetTempPath(), $"tessera-static-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        try
        {
            OrtFormatConverter.SaveOptimized(inputPath, temp, ortFormat: false, GraphOptimizationLevel.Basic);
            return OnnxModelFile.Load(temp).Model;
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    static ActivationRanges Calibrate(ModelProto floatModel, string inputName, IReadOnlyList<string> tensors, IReadOnlyList<NamedTensor> calibration, CalibrationMethod method)
    {
        var ranges = new ActivationRanges();
        var outputs = tensors.Where(t => t != inputName).ToList();
        using var session = Session(WithOutputs(floatModel, outputs));
        int pass;
        for (pass = 0; pass < (method == CalibrationMethod.MinMax ? 1 : 2); pass++)
        {
            foreach (var batch in calibration)
            {
                var data = (float[])batch.Data;
                Observe(inputName, data);
                using var input = OrtValue.CreateTensorValueFromMemory(data, [.. batch.Shape]);
                using var results = session.Run(new RunOptions(), [inputName], [input], outputs);
                for (int i = 0; i < outputs.Count; i++) Observe(outputs[i], results[i].GetTensorDataAsSpan<float>());
            }
        }
        return ranges;

        void Observe(string name, ReadOnlySpan<float> values)
        {
            if (!tensors.Contains(name)) return;
            if (pass == 0) ranges.ObserveMinMax(name, values);
            else ranges.ObserveHistogram(name, values);
        }
    }

    static IReadOnlyList<LayerError> LayerErrors(ModelProto floatModel, ModelProto quantized, QdqRewriter rewriter, string inputName, IReadOnlyList<NamedTensor> calibration, int samples)
    {
        var active = rewriter.Activations.ToHashSet(StringComparer.Ordinal);
        var layers = rewriter.Compute.Select(n => (Node: n, Tensor: n.Output[0], Seen: active.Contains(n.Output[0]) ? n.Output[0] + "_DequantizeLinear_Output" : n.Output[0])).ToList();
        using var reference = Session(WithOutputs(floatModel, layers.Select(l => l.Tensor)));
        using var simulated = Session(WithOutputs(quantized, layers.Select(l => l.Seen)));
        var sums = layers.Select(_ => (Diff: 0.0, Norm: 0.0, Max: 0.0)).ToArray();
        int seen = 0;
        foreach (var batch in calibration)
        {
            if (seen >= samples) break;
            seen += (int)batch.Shape[0];
            using var input = OrtValue.CreateTensorValueFromMemory((float[])batch.Data, [.. batch.Shape]);
            using var expected = reference.Run(new RunOptions(), [inputName], [input], layers.Select(l => l.Tensor).ToList());
            using var actual = simulated.Run(new RunOptions(), [inputName], [input], layers.Select(l => l.Seen).ToList());
            for (int i = 0; i < layers.Count; i++)
            {
                var f = expected[i].GetTensorDataAsSpan<float>();
                var q = actual[i].GetTensorDataAsSpan<float>();
                for (int j = 0; j < f.Length; j++)
                {
                    double d = q[j] - f[j];
                    sums[i].Diff += d * d;
                    sums[i].Norm += (double)f[j] * f[j];
                    sums[i].Max = Math.Max(sums[i].Max, Math.Abs(d));
                }
            }
        }
        return layers.Select((l, i) => new LayerError(QdqRewriter.NameOf(l.Node), l.Node.OpType, l.Tensor,
            sums[i].Norm > 0 ? Math.Sqrt(sums[i].Diff / sums[i].Norm) : 0, sums[i].Max)).ToList();
    }

    static ModelProto WithOutputs(ModelProto model, IEnumerable<string> tensors)
    {
        var copy = model.Clone();
        var existing = copy.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (string t in tensors)
            if (existing.Add(t))
                copy.Graph.Output.Add(new ValueInfoProto { Name = t, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        return copy;
    }

    // Unoptimized, so every requested tensor is computed as the graph states it (no fusion hides one).
    static InferenceSession Session(ModelProto model)
    {
        using var so = new SessionOptions { GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL };
        return new InferenceSession(model.ToByteArray(), so);
    }
}
