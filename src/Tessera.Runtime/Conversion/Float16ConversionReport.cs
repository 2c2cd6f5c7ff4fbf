namespace Tessera.Runtime.Conversion;

/// <summary>What <see cref="Float16Converter.Convert"/> did.</summary>
/// <param name="ConvertedInitializers">Float32 initializers (and Constant values) stored as float16.</param>
/// <param name="ClampedValues">Values outside float16's range clamped to ±65504, or non-zero values below its smallest subnormal raised to ±2^-24.</param>
/// <param name="BlockedNodes">Nodes kept in float32 (name, op type).</param>
/// <param name="CastNodes">Cast nodes inserted between float16 and float32 parts.</param>
/// <param name="InputFileBytes">Bytes of the input file.</param>
/// <param name="OutputFileBytes">Bytes of the written file.</param>
public sealed record Float16ConversionReport(int ConvertedInitializers, long ClampedValues, IReadOnlyList<(string Name, string OpType)> BlockedNodes,
    int CastNodes, long InputFileBytes, long OutputFileBytes);
