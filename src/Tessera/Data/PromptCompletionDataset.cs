using static TorchSharp.torch;

namespace Tessera.Data;

/// <summary>
/// Prompt/completion pairs for causal-LM fine-tuning with the loss on the completion only: each example is
/// prompt + completion ids (truncated to <see cref="MaxLength"/>), batches are right-padded to their longest example, and
/// the targets hold -100 (ignored by <c>CausalLMLoss</c>) on prompt and padding positions. With right padding a causal
/// model needs no attention mask: real tokens never attend to the padding after them.
/// </summary>
public sealed class PromptCompletionDataset : IDataset<Batch>
{
    /// <summary>The label value the loss skips.</summary>
    public const long IgnoreIndex = -100;

    readonly List<(long[] Ids, int PromptLength)> examples = [];

    /// <summary>Builds the dataset from token ids.</summary>
    /// <param name="pairs">Prompt ids and completion ids of each example (append end-of-text to the completion yourself).</param>
    /// <param name="maxLength">Longest example; longer ones are cut at the end.</param>
    /// <param name="padId">Id used for padding inputs (never scored).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is below 2.</exception>
    public PromptCompletionDataset(IEnumerable<(IReadOnlyList<int> Prompt, IReadOnlyList<int> Completion)> pairs, int maxLength, long padId = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 2);
        MaxLength = maxLength;
        PadId = padId;
        foreach (var (prompt, completion) in pairs)
        {
            long[] ids = [.. prompt.Select(i => (long)i), .. completion.Select(i => (long)i)];
            if (ids.Length > maxLength) ids = ids[..maxLength];
            int promptLength = Math.Min(prompt.Count, ids.Length);
            // An example whose completion was cut away entirely would contribute nothing to the loss.
            if (promptLength < ids.Length) examples.Add((ids, promptLength));
        }
    }

    /// <summary>Longest example in tokens.</summary>
    public int MaxLength { get; }

    /// <summary>Padding id of the inputs.</summary>
    public long PadId { get; }

    /// <inheritdoc />
    public int Count => examples.Count;

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">An index is outside [0, <see cref="Count"/>).</exception>
    public Batch GetBatch(ReadOnlySpan<int> indices)
    {
        int width = 0;
        foreach (int i in indices)
        {
            if ((uint)i >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), i, $"Index outside a dataset of {Count} examples.");
            width = Math.Max(width, examples[i].Ids.Length);
        }
        var inputs = new long[indices.Length * width];
        var targets = new long[indices.Length * width];
        Array.Fill(inputs, PadId);
        Array.Fill(targets, IgnoreIndex);
        for (int row = 0; row < indices.Length; row++)
        {
            var (ids, promptLength) = examples[indices[row]];
            ids.CopyTo(inputs, row * width);
            Array.Copy(ids, promptLength, targets, row * width + promptLength, ids.Length - promptLength);
        }
        return new Batch(tensor(inputs, [indices.Length, width]), tensor(targets, [indices.Length, width]));
    }
}
