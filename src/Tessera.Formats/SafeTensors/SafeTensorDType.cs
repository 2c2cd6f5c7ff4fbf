namespace Tessera.Formats.SafeTensors;

/// <summary>Element types a safetensors file can hold; the names match the format's <c>dtype</c> strings.</summary>
public enum SafeTensorDType
{
    /// <summary>Boolean, one byte per element (<c>"BOOL"</c>).</summary>
    BOOL,
    /// <summary>Unsigned 8-bit integer (<c>"U8"</c>).</summary>
    U8,
    /// <summary>Signed 8-bit integer (<c>"I8"</c>).</summary>
    I8,
    /// <summary>Signed 16-bit integer (<c>"I16"</c>).</summary>
    I16,
    /// <summary>Unsigned 16-bit integer (<c>"U16"</c>).</summary>
    U16,
    /// <summary>IEEE 754 half precision (<c>"F16"</c>).</summary>
    F16,
    /// <summary>bfloat16: the upper half of an IEEE single (<c>"BF16"</c>).</summary>
    BF16,
    /// <summary>Signed 32-bit integer (<c>"I32"</c>).</summary>
    I32,
    /// <summary>Unsigned 32-bit integer (<c>"U32"</c>).</summary>
    U32,
    /// <summary>IEEE 754 single precision (<c>"F32"</c>).</summary>
    F32,
    /// <summary>IEEE 754 double precision (<c>"F64"</c>).</summary>
    F64,
    /// <summary>Signed 64-bit integer (<c>"I64"</c>).</summary>
    I64,
    /// <summary>Unsigned 64-bit integer (<c>"U64"</c>).</summary>
    U64,
}
