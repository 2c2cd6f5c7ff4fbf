using System.Text.Json;

namespace Tessera.Transformers;

/// <summary>
/// Rotary position embedding frequencies of Llama-family configs: θ^(-2i/d) per pair of dimensions, with optional
/// <c>linear</c> or <c>llama3</c> scaling from <c>rope_scaling</c> (as <c>transformers</c> computes them).
/// </summary>
public static class RotaryFrequencies
{
    /// <summary>The inverse frequencies [head_dim / 2] in float32 (like <c>transformers</c>, so far positions round the same way).</summary>
    /// <exception cref="ArgumentException"><c>rope_scaling</c> is not supported or misses a field.</exception>
    public static float[] Compute(LlamaConfig config)
    {
        int dim = config.HeadDim;
        var inv = new float[dim / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = 1.0f / MathF.Pow((float)config.EffectiveRopeTheta, (float)(2 * i) / dim);
        return Scale(inv, config);
    }

    /// <summary>Checks <c>rope_scaling</c>: absent, null, or a supported <c>rope_type</c> with its fields.</summary>
    /// <exception cref="ArgumentException">The scaling type is not supported or a field is missing.</exception>
    public static void Validate(LlamaConfig config)
    {
        if (ScalingType(config) is not (null or "default" or "linear" or "llama3") and var type)
            throw new ArgumentException($"\"{Field(config)}\": rope_type \"{type}\" is not supported (supported: default, linear, llama3)", Field(config));
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
        if (config.EffectiveRopeScaling is not { ValueKind: JsonValueKind.Object } s) return null;
        if (s.TryGetProperty("rope_type", out JsonElement t) && t.ValueKind == JsonValueKind.String) return t.GetString();
        if (s.TryGetProperty("type", out t) && t.ValueKind == JsonValueKind.String) return t.GetString();
        return "default";
    }

    static double Number(LlamaConfig config, string field) =>
        config.EffectiveRopeScaling!.Value.TryGetProperty(field, out JsonElement v) && v.ValueKind == JsonValueKind.Number
            ? v.GetDouble()
            : throw new ArgumentException($"\"{Field(config)}\": missing number \"{field}\"", Field(config));

    /// <summary>The JSON field the scaling came from, for messages.</summary>
    static string Field(LlamaConfig config) => config.RopeParameters is { ValueKind: JsonValueKind.Object } ? "rope_parameters" : "rope_scaling";

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
