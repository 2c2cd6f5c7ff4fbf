using Tessera.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Export;

/// <summary>Runs inputs through TorchSharp and ONNX Runtime (through Tessera.Runtime's <see cref="OnnxModel"/>) and measures how far the outputs differ.</summary>
internal static class OnnxVerifier
{
    internal readonly record struct Result(double MaxAbs, double MaxRel, IReadOnlyList<long> BatchSizes);

    /// <summary>
    /// Compares <paramref name="module"/> (already in eval mode) with the ONNX model at <paramref name="modelPath"/>
    /// on the sample input and, when the batch is dynamic, on a random input with another batch size.
    /// </summary>
    /// <exception cref="OnnxExportException">ONNX Runtime rejects the model, an output shape differs, or an element differs beyond the tolerance.</exception>
    public static Result Verify(nn.Module<Tensor, Tensor> module, Tensor sample, string modelPath, OnnxExportOptions options)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var inputs = new List<Tensor> { sample };
        if (options.DynamicBatch && sample.dim() > 0)
        {
            long batch = sample.shape[0] == options.VerificationBatchSize ? (options.VerificationBatchSize == 2 ? 3 : 2) : options.VerificationBatchSize;
            var shape = (long[])sample.shape.Clone();
            shape[0] = batch;
            inputs.Add(RandomLike(sample, shape, options.Seed));
        }

        using OnnxModel onnx = OnnxRuntimeCall.Load(modelPath, "exported model");
        double maxAbs = 0, maxRel = 0;
        foreach (var input in inputs)
        {
            var expected = module.call(input).detach().cpu().to_type(ScalarType.Float64).contiguous();
            var outputs = OnnxRuntimeCall.Run(onnx, new Dictionary<string, NamedTensor> { [options.InputName] = ToNamedTensor(input) }, "exported model");
            NamedTensor actual = outputs.TryGetValue(options.OutputName, out var o) ? o
                : throw new OnnxExportException($"the exported model has no output '{options.OutputName}'");
            long[] actualShape = [.. actual.Shape];
            if (!actualShape.SequenceEqual(expected.shape))
                throw new OnnxExportException($"ONNX Runtime's output has shape [{string.Join(", ", actualShape)}], TorchSharp's [{string.Join(", ", expected.shape)}] (input [{string.Join(", ", input.shape)}])");
            double[] got = ReadAsDouble(actual);
            var want = expected.data<double>().ToArray();
            double abs = 0, scale = 0, worstExcess = 0;
            int worst = -1;
            for (int i = 0; i < want.Length; i++)
            {
                double d = Math.Abs(got[i] - want[i]);
                if (double.IsNaN(d) && !(double.IsNaN(got[i]) && double.IsNaN(want[i]))) d = double.PositiveInfinity;
                if (double.IsNaN(d)) d = 0;
                abs = Math.Max(abs, d);
                scale = Math.Max(scale, Math.Abs(want[i]));
                double excess = d - (options.AbsoluteTolerance + options.RelativeTolerance * Math.Abs(want[i]));
                if (excess > worstExcess) { worstExcess = excess; worst = i; }
            }
            maxAbs = Math.Max(maxAbs, abs);
            maxRel = Math.Max(maxRel, scale > 0 ? abs / scale : abs);
            if (worst >= 0)
                throw new OnnxExportException(
                    $"ONNX Runtime differs from TorchSharp by {Math.Abs(got[worst] - want[worst]):G4} at output element {worst} ({got[worst]:G6} vs {want[worst]:G6}) for an input of shape [{string.Join(", ", input.shape)}]; " +
                    $"allowed {options.AbsoluteTolerance:G3} + {options.RelativeTolerance:G3}·|reference|");
        }
        return new Result(maxAbs, maxRel, inputs.Select(i => i.dim() > 0 ? i.shape[0] : 1).ToArray());
    }

    /// <summary>Random values like the sample: normal for floating types, integers drawn from the sample's own range for integer types (e.g. token ids).</summary>
    static Tensor RandomLike(Tensor sample, long[] shape, long seed)
    {
        using var gen = new Generator((ulong)seed);
        if (is_floating_point(sample))
            return randn(shape, ScalarType.Float32, generator: gen).to(sample.dtype, sample.device);
        long low = sample.numel() == 0 ? 0 : sample.min().item<long>();
        long high = sample.numel() == 0 ? 1 : sample.max().item<long>() + 1;
        return randint(low, high, shape, ScalarType.Int64, generator: gen).to(sample.dtype, sample.device);
    }

    static NamedTensor ToNamedTensor(Tensor input)
    {
        using var cpu = input.detach().cpu().contiguous();
        long[] shape = cpu.shape;
        return cpu.dtype switch
        {
            ScalarType.Float32 => new NamedTensor(cpu.data<float>().ToArray(), shape),
            ScalarType.Float64 => new NamedTensor(cpu.data<double>().ToArray(), shape),
            ScalarType.Int64 => new NamedTensor(cpu.data<long>().ToArray(), shape),
            ScalarType.Int32 => new NamedTensor(cpu.data<int>().ToArray(), shape),
            _ => throw new OnnxExportException($"verification supports float32, float64, int64 and int32 inputs, not {cpu.dtype}; pass Verify = false"),
        };
    }

    static double[] ReadAsDouble(NamedTensor value) => value.DataType switch
    {
        TensorDataType.Float32 => [.. value.AsFloats().Select(v => (double)v)],
        TensorDataType.Float64 => value.AsDoubles(),
        TensorDataType.Int64 => [.. value.AsInt64s().Select(v => (double)v)],
        TensorDataType.Int32 => [.. value.AsInt32s().Select(v => (double)v)],
        var t => throw new OnnxExportException($"verification cannot compare outputs of type {t}; pass Verify = false"),
    };
}
