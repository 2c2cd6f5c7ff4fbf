using System.Diagnostics;
using System.Threading.Channels;
using Tessera.Text.Generation;

namespace Tessera.Serving;

/// <summary>One piece of a generated completion: its text (may be empty) and, on the last piece, why it ended.</summary>
/// <param name="Text">The new text.</param>
/// <param name="FinishReason">"stop", "length" or "abort" on the last piece; null before.</param>
/// <param name="Error">Set when generation failed (the last piece).</param>
internal readonly record struct TokenEvent(string Text, string? FinishReason, Exception? Error = null);

/// <summary>A completion request as the scheduler runs it: ids in, pieces out through <see cref="Events"/>.</summary>
internal sealed class GenerationRequest
{
    public required IReadOnlyList<int> PromptIds { get; init; }

    /// <summary>Most new tokens (already capped by the context).</summary>
    public required int MaxNewTokens { get; init; }

    /// <summary>Sampling settings (DoSample, temperature, top-k, top-p, repetition penalty, seed); validated.</summary>
    public required GenerationConfig Sampling { get; init; }

    public IReadOnlyList<string> Stop { get; init; } = [];

    public CancellationToken Cancel { get; init; }

    public Channel<TokenEvent> Events { get; } = Channel.CreateUnbounded<TokenEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    public long EnqueuedAt { get; } = Stopwatch.GetTimestamp();
    public long StartedAt { get; set; }
    public long FirstTokenAt { get; set; }
    public long LastTokenAt { get; set; }
    public int GeneratedTokens { get; set; }
    public string? FinishReason { get; set; }

    public static double Seconds(long from, long to) => from == 0 || to == 0 ? double.NaN : (to - from) / (double)Stopwatch.Frequency;
}
