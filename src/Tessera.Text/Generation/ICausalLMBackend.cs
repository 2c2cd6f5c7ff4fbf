namespace Tessera.Text.Generation;

/// <summary>
/// What <see cref="GenerationLoop"/> needs from a causal language model: next-token logits for a batch of token ids.
/// The TorchSharp module with its KV cache (<c>TorchCausalLM</c>) and the ONNX Runtime session with past key/values
/// (<c>OrtCausalLM</c>) implement it; everything else (padding, budget, sampling, EOS, stop strings, text) is shared.
/// </summary>
public interface ICausalLMBackend
{
    /// <summary>Vocabulary size: the length of one row of logits.</summary>
    int VocabSize { get; }

    /// <summary>Longest sequence (prompt plus generated tokens) the model accepts; null when unknown.</summary>
    int? MaxPositions { get; }

    /// <summary>The special token ids of the model's own config (<c>config.json</c>): generation uses them where its <see cref="GenerationConfig"/> leaves an id unset.</summary>
    SpecialTokenIds SpecialTokenIds { get; }

    /// <summary>Starts a batch of <paramref name="batchSize"/> sequences with nothing computed yet (an empty cache).</summary>
    ICausalLMState Begin(int batchSize);
}
