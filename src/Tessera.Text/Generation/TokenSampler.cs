namespace Tessera.Text.Generation;

/// <summary>
/// Picks next tokens as a <see cref="GenerationConfig"/> says: repetition penalty, then greedy, or temperature, top-k,
/// top-p and a draw from one seeded <see cref="DeterministicRandom"/>. The one sampler of both back ends: the same
/// seed and the same logits give the same tokens.
/// </summary>
public sealed class TokenSampler
{
    readonly GenerationConfig config;
    readonly DeterministicRandom? random;

    /// <summary>A sampler for <paramref name="config"/>; sampling draws from its <see cref="GenerationConfig.Seed"/>, or from a random seed when that is null.</summary>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public TokenSampler(GenerationConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        this.config = config;
        if (config.DoSample)
            random = new DeterministicRandom(config.Seed is long seed ? unchecked((ulong)seed) : unchecked((ulong)Random.Shared.NextInt64()));
    }

    /// <summary>Applies the config's processors to <paramref name="scores"/> (changed in place) and returns the chosen id.</summary>
    /// <param name="scores">One row of logits.</param>
    /// <param name="previousIds">The row's ids so far (prompt without padding, then generated), for the repetition penalty.</param>
    public int Next(Span<float> scores, IEnumerable<int> previousIds)
    {
        if (config.RepetitionPenalty != 1) LogitsProcessors.RepetitionPenalty(scores, previousIds, config.RepetitionPenalty);
        if (random is null) return LogitsProcessors.Greedy(scores);
        if (config.Temperature != 1) LogitsProcessors.Temperature(scores, config.Temperature);
        LogitsProcessors.TopK(scores, config.TopK);
        LogitsProcessors.TopP(scores, config.TopP);
        return LogitsProcessors.Sample(scores, random);
    }
}
