namespace Tessera.Text.Generation;

/// <summary>Why a generated sequence ended.</summary>
public enum FinishReason
{
    /// <summary>The token budget (<see cref="GenerationConfig.MaxNewTokens"/>, or the model's context) ran out.</summary>
    Length,

    /// <summary>The model produced an end-of-sequence token (<see cref="GenerationConfig.EosTokenIds"/>).</summary>
    EndOfSequence,

    /// <summary>The text reached one of <see cref="GenerationConfig.StopStrings"/>.</summary>
    StopString,
}
