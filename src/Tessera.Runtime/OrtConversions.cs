using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Tessera.Runtime;

/// <summary>Maps between ONNX Runtime's value and metadata types and Tessera's <see cref="NamedTensor"/> and <see cref="TensorSpec"/>.</summary>
internal static class OrtConversions
{
    public static TensorSpec ToSpec(string name, NodeMetadata meta)
    {
        if (!meta.IsTensor)
            return new TensorSpec(name, TensorDataType.Other, meta.OnnxValueType.ToString().ToLowerInvariant(), [], []);
        var dims = meta.Dimensions.Select(d => (long)d).ToArray();
        var symbolic = meta.SymbolicDimensions;
        var names = dims.Select((d, i) => d < 0 && i < symbolic.Length && !string.IsNullOrEmpty(symbolic[i]) ? symbolic[i] : null).ToArray();
        return new TensorSpec(name, ToDataType(meta.ElementDataType), OnnxTypeName(meta.ElementDataType), dims, names);
    }

    public static TensorDataType ToDataType(TensorElementType type) => type switch
    {
        TensorElementType.Float => TensorDataType.Float32,
        TensorElementType.Int64 => TensorDataType.Int64,
        TensorElementType.Int32 => TensorDataType.Int32,
        TensorElementType.UInt8 => TensorDataType.UInt8,
        TensorElementType.Double => TensorDataType.Float64,
        _ => TensorDataType.Other,
    };

    public static string OnnxTypeName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float",
        TensorElementType.Float16 => "float16",
        TensorElementType.BFloat16 => "bfloat16",
        TensorElementType.Double => "double",
        TensorElementType.Int8 => "int8",
        TensorElementType.UInt8 => "uint8",
        TensorElementType.Int16 => "int16",
        TensorElementType.UInt16 => "uint16",
        TensorElementType.Int32 => "int32",
        TensorElementType.UInt32 => "uint32",
        TensorElementType.Int64 => "int64",
        TensorElementType.UInt64 => "uint64",
        TensorElementType.Bool => "bool",
        TensorElementType.String => "string",
        _ => type.ToString().ToLowerInvariant(),
    };

    /// <summary>An OrtValue over the tensor's own array (pinned, not copied); dispose it after the run.</summary>
    public static OrtValue ToOrtValue(NamedTensor tensor) => tensor.Data switch
    {
        float[] f => OrtValue.CreateTensorValueFromMemory(f, tensor.ShapeArray),
        long[] l => OrtValue.CreateTensorValueFromMemory(l, tensor.ShapeArray),
        int[] i => OrtValue.CreateTensorValueFromMemory(i, tensor.ShapeArray),
        byte[] b => OrtValue.CreateTensorValueFromMemory(b, tensor.ShapeArray),
        double[] d => OrtValue.CreateTensorValueFromMemory(d, tensor.ShapeArray),
        _ => throw new InvalidOperationException($"Unsupported tensor data {tensor.Data.GetType()}."),
    };

    /// <summary>Copies an output value into a new managed tensor.</summary>
    public static NamedTensor ToNamedTensor(string name, OrtValue value)
    {
        if (!value.IsTensor) throw new TesseraRuntimeException($"Output '{name}' is a {value.OnnxType}, not a tensor; use ONNX Runtime directly for it.");
        var info = value.GetTensorTypeAndShape();
        long[] shape = info.Shape;
        return info.ElementDataType switch
        {
            TensorElementType.Float => new NamedTensor(value.GetTensorDataAsSpan<float>().ToArray(), shape),
            TensorElementType.Int64 => new NamedTensor(value.GetTensorDataAsSpan<long>().ToArray(), shape),
            TensorElementType.Int32 => new NamedTensor(value.GetTensorDataAsSpan<int>().ToArray(), shape),
            TensorElementType.UInt8 => new NamedTensor(value.GetTensorDataAsSpan<byte>().ToArray(), shape),
            TensorElementType.Double => new NamedTensor(value.GetTensorDataAsSpan<double>().ToArray(), shape),
            var t => throw new TesseraRuntimeException($"Output '{name}' has element type {OnnxTypeName(t)}, which NamedTensor does not carry."),
        };
    }

    /// <summary>A new zeroed managed array of <paramref name="type"/> with <paramref name="count"/> elements.</summary>
    public static Array NewArray(TensorDataType type, long count, string name) => type switch
    {
        TensorDataType.Float32 => new float[count],
        TensorDataType.Int64 => new long[count],
        TensorDataType.Int32 => new int[count],
        TensorDataType.UInt8 => new byte[count],
        TensorDataType.Float64 => new double[count],
        _ => throw new TesseraRuntimeException($"'{name}' has an element type that reusable buffers do not support."),
    };

    public static OrtValue Pin(Array array, long[] shape) => array switch
    {
        float[] f => OrtValue.CreateTensorValueFromMemory(f, shape),
        long[] l => OrtValue.CreateTensorValueFromMemory(l, shape),
        int[] i => OrtValue.CreateTensorValueFromMemory(i, shape),
        byte[] b => OrtValue.CreateTensorValueFromMemory(b, shape),
        double[] d => OrtValue.CreateTensorValueFromMemory(d, shape),
        _ => throw new InvalidOperationException($"Unsupported array {array.GetType()}."),
    };

    public static SessionOptions ToSessionOptions(OnnxSessionOptions options, bool skipOptimization = false)
    {
        var so = new SessionOptions();
        if (options.IntraOpThreads > 0) so.IntraOpNumThreads = options.IntraOpThreads;
        if (options.InterOpThreads > 0) so.InterOpNumThreads = options.InterOpThreads;
        if (!options.AllowSpinning)
        {
            so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            so.AddSessionConfigEntry("session.inter_op.allow_spinning", "0");
        }
        so.ExecutionMode = options.ExecutionMode == ExecutionMode.Parallel
            ? Microsoft.ML.OnnxRuntime.ExecutionMode.ORT_PARALLEL
            : Microsoft.ML.OnnxRuntime.ExecutionMode.ORT_SEQUENTIAL;
        so.GraphOptimizationLevel = (skipOptimization ? GraphOptimizationLevel.None : options.GraphOptimizationLevel) switch
        {
            GraphOptimizationLevel.None => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
            GraphOptimizationLevel.Basic => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            GraphOptimizationLevel.Extended => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            _ => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (options.ProfileFilePrefix is string prefix)
        {
            so.ProfileOutputPathPrefix = prefix; // read when profiling is switched on, so set first
            so.EnableProfiling = true;
        }
        return so;
    }
}
