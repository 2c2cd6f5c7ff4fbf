using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// Rotary position embedding as <c>transformers</c> applies it to Llama-family models: inverse frequencies
/// θ^(-2i/d), duplicated halves (<c>cat(freqs, freqs)</c>) and <c>rotate_half(x) = cat(-x2, x1)</c>, with optional
/// <c>linear</c> or <c>llama3</c> frequency scaling from <c>rope_scaling</c>.
/// </summary>
internal sealed class RotaryEmbedding
{
    readonly float[] inverseFrequencies;

    public RotaryEmbedding(LlamaConfig config)
    {
        int dim = config.HeadDim;
        // float32 like transformers, so positions far into the context round the same way.
        inverseFrequencies = RotaryFrequencies.Compute(config);
    }

    /// <summary>cos and sin [batch or 1, seq, head_dim] for <paramref name="positionIds"/> [batch or 1, seq], in float32.</summary>
    public (Tensor Cos, Tensor Sin) CosSin(Tensor positionIds)
    {
        using var scope = NewDisposeScope();
        Tensor inv = tensor(inverseFrequencies, device: positionIds.device);
        Tensor freqs = positionIds.to_type(ScalarType.Float32).unsqueeze(-1) * inv; // [b, s, d/2]
        Tensor emb = cat([freqs, freqs], -1);
        return (emb.cos().MoveToOuterDisposeScope(), emb.sin().MoveToOuterDisposeScope());
    }

    /// <summary>x · cos + rotate_half(x) · sin for x [batch, heads, seq, head_dim], cos/sin [batch or 1, seq, head_dim].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        Tensor rotated = cat([x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
        Tensor c = cos.unsqueeze(1).to_type(x.dtype), s = sin.unsqueeze(1).to_type(x.dtype);
        return (x * c + rotated * s).MoveToOuterDisposeScope();
    }
}
