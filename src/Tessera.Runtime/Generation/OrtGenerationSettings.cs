namespace Tessera.Runtime.Generation;

/// <summary>How <see cref="OrtCausalLM"/> picks tokens; the fields and defaults follow Hugging Face's <c>GenerationConfig</c>.</summary>
public sealed record OrtGenerationSettings
{
    /// <summary>Most tokens to generate (default 20).</summary>
    public int MaxNewTokens { get; init; } = 20;

    /// <summary>Sample from the (filtered) distribution; false picks the most likely token (greedy, the default).</summary>
    public bool DoSample { get; init; }

    /// <summary>Divides the logits before sampling (default 1).</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep only the k most likely tokens when sampling; 0 keeps all (default 50).</summary>
    public int TopK { get; init; } = 50;

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches p when sampling; 1 keeps all (default 1).</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Penalty for tokens already in the sequence (prompt or generated): positive logits divided by it, negative multiplied (default 1: none).</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Seed of the <see cref="DeterministicRandom"/> used for sampling (default 0).</summary>
    public ulong Seed { get; init; }

    /// <summary>Token ids that end generation (the EOS id is still returned); null uses the model folder's <c>generation_config.json</c> or <c>config.json</c>.</summary>
    public IReadOnlyList<int>? EosTokenIds { get; init; }

    /// <summary>
    /// When prompt + <see cref="MaxNewTokens"/> does not fit in the model's context, keep only the last tokens of the
    /// prompt so that it does (left truncation); false (the default) stops when the context is full and rejects a prompt
    /// that fills it. Same rule as <c>GenerationConfig.TruncatePrompt</c> in TorchSharp generation.
    /// </summary>
    public bool TruncatePrompt { get; init; }

    /// <summary>Checks the ranges.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A field is out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxNewTokens, nameof(MaxNewTokens));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Temperature, nameof(Temperature));
        ArgumentOutOfRangeException.ThrowIfNegative(TopK, nameof(TopK));
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "must be in (0, 1]");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(RepetitionPenalty, nameof(RepetitionPenalty));
    }
}
