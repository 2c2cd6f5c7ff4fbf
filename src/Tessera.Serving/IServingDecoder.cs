using Tessera.Text.Generation;

namespace Tessera.Serving;

/// <summary>
/// A causal language model as the server's scheduler drives it: batches whose rows join and leave between decode steps,
/// each row at its own length. <see cref="OrtServingDecoder"/> serves exported ONNX folders (keys and values kept per
/// batch, rows left-padded and masked); <see cref="BackendServingDecoder"/> adapts any <see cref="ICausalLMBackend"/>
/// (e.g. TorchSharp's <c>TorchCausalLM</c>) by recomputing the batch when its rows change.
/// </summary>
public interface IServingDecoder : IDisposable
{
    /// <summary>Vocabulary size: the length of one row of logits.</summary>
    int VocabSize { get; }

    /// <summary>Longest sequence (prompt plus generated tokens) the model accepts; null when unknown.</summary>
    int? MaxPositions { get; }

    /// <summary>EOS, BOS and pad ids from the model's config.</summary>
    SpecialTokenIds SpecialTokenIds { get; }

    /// <summary>Starts an empty batch. Only one thread uses a batch at a time.</summary>
    IDecoderBatch CreateBatch();
}

/// <summary>Rows being decoded together: each holds its cache (keys and values of its positions so far).</summary>
public interface IDecoderBatch : IDisposable
{
    /// <summary>Rows in the batch.</summary>
    int Count { get; }

    /// <summary>Prefills <paramref name="promptIds"/> as a new last row and writes the logits of its last position.</summary>
    /// <param name="promptIds">The prompt, at least one id.</param>
    /// <param name="logits">Receives [<see cref="IServingDecoder.VocabSize"/>] logits.</param>
    void Add(IReadOnlyList<int> promptIds, Span<float> logits);

    /// <summary>Feeds one new id per row and writes every row's next logits.</summary>
    /// <param name="nextIds">[<see cref="Count"/>] ids, one per row.</param>
    /// <param name="logits">Receives [<see cref="Count"/>, <see cref="IServingDecoder.VocabSize"/>] logits, row-major.</param>
    void Step(ReadOnlySpan<long> nextIds, Span<float> logits);

    /// <summary>Drops row <paramref name="index"/> and frees its cache; later rows move up by one.</summary>
    void Remove(int index);
}
