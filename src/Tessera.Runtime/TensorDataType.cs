namespace Tessera.Runtime;

/// <summary>Element types that <see cref="NamedTensor"/> carries (the ones image and text models take and return).</summary>
public enum TensorDataType
{
    /// <summary>32-bit float (ONNX <c>float</c>).</summary>
    Float32,
    /// <summary>64-bit signed integer (ONNX <c>int64</c>), used for token ids and class indices.</summary>
    Int64,
    /// <summary>32-bit signed integer (ONNX <c>int32</c>).</summary>
    Int32,
    /// <summary>8-bit unsigned integer (ONNX <c>uint8</c>), used for raw image bytes.</summary>
    UInt8,
    /// <summary>64-bit float (ONNX <c>double</c>).</summary>
    Float64,
    /// <summary>Any other ONNX element type (float16, bool, string, ...): described but not fed by <see cref="OnnxModel.Run"/>.</summary>
    Other,
}
