using System.Text.Json;
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
        var inv = new float[dim / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = 1.0f / MathF.Pow((float)config.RopeTheta, (float)(2 * i) / dim);
        inverseFrequencies = Scale(inv, config);
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

    /// <summary>Checks <c>rope_scaling</c>: absent, null, or a supported <c>rope_type</c> with its fields.</summary>
    /// <exception cref="ArgumentException">The scaling type is not supported or a field is missing.</exception>
    public static void ValidateScaling(LlamaConfig config)
    {
        if (ScalingType(config) is not (null or "default" or "linear" or "llama3") and var type)
            throw new ArgumentException($"\"rope_scaling\": rope_type \"{type}\" is not supported (supported: default, linear, llama3)", "rope_scaling");
        if (ScalingType(config) is "linear" or "llama3") _ = Number(config, "factor");
        if (ScalingType(config) is "llama3")
        {
            _ = Number(config, "low_freq_factor");
            _ = Number(config, "high_freq_factor");
            _ = Number(config, "original_max_position_embeddings");
        }
    }

    static string? ScalingType(LlamaConfig config)
    {
        if (config.RopeScaling is not { ValueKind: JsonValueKind.Object } s) return null;
        if (s.TryGetProperty("rope_type", out JsonElement t) && t.ValueKind == JsonValueKind.String) return t.GetString();
        if (s.TryGetProperty("type", out t) && t.ValueKind == JsonValueKind.String) return t.GetString();
        return "default";
    }

    static double Number(LlamaConfig config, string field) =>
        config.RopeScaling!.Value.TryGetProperty(field, out JsonElement v) && v.ValueKind == JsonValueKind.Number
            ? v.GetDouble()
            : throw new ArgumentException($"\"rope_scaling\": missing number \"{field}\"", "rope_scaling");

    static float[] Scale(float[] inv, LlamaConfig config)
    {
        switch (ScalingType(config))
        {
            case "linear":
            {
                float factor = (float)Number(config, "factor");
                return inv.Select(f => f / factor).ToArray();
            }
            case "llama3":
            {
                double factor = Number(config, "factor");
                double low = Number(config, "low_freq_factor"), high = Number(config, "high_freq_factor");
                double oldContext = Number(config, "original_max_position_embeddings");
                double lowWavelen = oldContext / low, highWavelen = oldContext / high;
                var result = new float[inv.Length];
                for (int i = 0; i < inv.Length; i++)
                {
                    double wavelen = 2 * Math.PI / inv[i];
                    double scaled = wavelen > lowWavelen ? inv[i] / factor : inv[i];
                    if (wavelen >= highWavelen && wavelen <= lowWavelen)
                    {
                        double smooth = (oldContext / wavelen - low) / (high - low);
                        scaled = (1 - smooth) * scaled / factor + smooth * scaled;
                    }
                    result[i] = (float)scaled;
                }
                return result;
            }
            default:
                return inv;
        }
    }
}
