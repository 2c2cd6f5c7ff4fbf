namespace Tessera.Runtime.Conversion;

/// <summary>How <see cref="Float16Converter"/> converts a model. Immutable.</summary>
public sealed record Float16ConversionOptions
{
    /// <summary>Keep float32 graph inputs and outputs (Cast nodes at the edges), so callers feed and read float32 as before.</summary>
    public bool KeepIoTypes { get; init; }

    /// <summary>Op types that stay float32, with Cast nodes around them. Default <see cref="Float16Converter.DefaultBlockList"/>.</summary>
    public IReadOnlySet<string> BlockList { get; init; } = Float16Converter.DefaultBlockList;
}
