using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Text.Generation;

/// <summary>
/// The steps between a model's next-token logits and the chosen token, as pure functions on scores shaped
/// [batch, vocab] (floating point). Each returns a new tensor and leaves its input alone. Removed tokens get
/// negative infinity, so a softmax gives them probability 0. <see cref="TextGeneration"/> applies them in
/// <c>transformers</c>' order: repetition penalty, then (when sampling) temperature, top-k, top-p.
/// </summary>
public static class LogitsProcessors
{
    /// <summary>
    /// CTRL's repetition penalty as <c>transformers</c> applies it: the score of every token id that occurs in
    /// <paramref name="previousIds"/> becomes <c>score * penalty</c> when negative and <c>score / penalty</c> otherwise,
    /// so a penalty above 1 always makes a seen token less likely. Each id is penalized once however often it occurs.
    /// </summary>
    /// <param name="scores">Logits [batch, vocab].</param>
    /// <param name="previousIds">Ids seen so far, [batch, length] (int64).</param>
    /// <param name="penalty">Positive; 1 leaves the scores unchanged.</param>
    /// <param name="previousMask">1 where <paramref name="previousIds"/> holds a real token and 0 at padding (whose ids are not penalized); null means all real.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="penalty"/> is not positive.</exception>
    public static Tensor RepetitionPenalty(Tensor scores, Tensor previousIds, double penalty, Tensor? previousMask = null)
    {
        if (!(penalty > 0)) throw new ArgumentOutOfRangeException(nameof(penalty), penalty, "the repetition penalty must be positive");
        using var scope = NewDisposeScope();
        Tensor weight = previousMask is null ? ones(previousIds.shape, ScalarType.Float32, scores.device) : previousMask.to_type(ScalarType.Float32);
        Tensor seen = zeros(scores.shape, ScalarType.Float32, scores.device).scatter_add_(1, previousIds, weight).gt(0);
        Tensor penalized = where(scores.lt(0), scores * penalty, scores / penalty);
        return where(seen, penalized, scores).MoveToOuterDisposeScope();
    }

    /// <summary>Divides the scores by <paramref name="temperature"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="temperature"/> is not positive.</exception>
    public static Tensor Temperature(Tensor scores, double temperature)
    {
        if (!(temperature > 0)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "the temperature must be positive");
        return scores / temperature;
    }

    /// <summary>
    /// Keeps the <paramref name="k"/> highest scores of each row and sets the rest to negative infinity. Tokens tied
    /// with the k-th highest score are all kept (the <c>transformers</c> rule), so a row may keep more than k.
    /// </summary>
    /// <param name="scores">Logits [batch, vocab].</param>
    /// <param name="k">How many to keep; 0, or at least the vocabulary size, keeps everything.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is negative.</exception>
    public static Tensor TopK(Tensor scores, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (k == 0 || k >= scores.shape[^1]) return scores.clone();
        using var scope = NewDisposeScope();
        Tensor kth = scores.topk(k, dim: -1).values.narrow(-1, k - 1, 1);
        return scores.masked_fill(scores.lt(kth), double.NegativeInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Nucleus filtering: keeps, per row, the smallest set of most likely tokens whose probabilities (softmax of the
    /// scores) add up to at least <paramref name="p"/>, and always at least <paramref name="minTokensToKeep"/> tokens;
    /// the others get negative infinity. Among tokens with equal scores the lower id is taken first.
    /// </summary>
    /// <param name="scores">Logits [batch, vocab].</param>
    /// <param name="p">In (0, 1]; 1 keeps everything.</param>
    /// <param name="minTokensToKeep">At least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside (0, 1] or <paramref name="minTokensToKeep"/> is below 1.</exception>
    public static Tensor TopP(Tensor scores, double p, int minTokensToKeep = 1)
    {
        if (!(p > 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "top_p must be in (0, 1]");
        ArgumentOutOfRangeException.ThrowIfLessThan(minTokensToKeep, 1);
        if (p >= 1) return scores.clone();
        using var scope = NewDisposeScope();
        var (sorted, order) = scores.sort(dim: -1, descending: true, stable: true);
        Tensor probs = sorted.to_type(ScalarType.Float32).softmax(-1);
        // A token is dropped when the more likely tokens before it already reach p.
        Tensor before = probs.cumsum(-1) - probs;
        Tensor dropSorted = before.ge(p);
        long keep = Math.Min(minTokensToKeep, scores.shape[^1]);
        dropSorted.narrow(-1, 0, keep).fill_(false);
        Tensor drop = zeros_like(dropSorted).scatter_(-1, order, dropSorted);
        return scores.masked_fill(drop, double.NegativeInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>The highest-scoring id of each row, [batch] (int64); the lowest id wins a tie.</summary>
    public static Tensor Greedy(Tensor scores) => scores.argmax(-1);

    /// <summary>
    /// Draws one id per row from the softmax of the scores, [batch] (int64). With a <paramref name="generator"/> the draw
    /// is reproducible: the same seed and scores give the same ids.
    /// </summary>
    /// <param name="scores">Logits [batch, vocab]; at least one finite score per row.</param>
    /// <param name="generator">Random source on the scores' device; null uses libtorch's global generator.</param>
    public static Tensor Sample(Tensor scores, torch.Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        Tensor probs = scores.to_type(ScalarType.Float32).softmax(-1);
        return multinomial(probs, 1, replacement: false, generator: generator).squeeze(-1).MoveToOuterDisposeScope();
    }
}
