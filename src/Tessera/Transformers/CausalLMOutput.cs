using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>What a causal language model returns for one forward pass.</summary>
/// <param name="Logits">Next-token scores [batch, new_tokens, vocab_size].</param>
/// <param name="PastKeyValues">The cache, now including the new tokens (the same object that was passed in, if any); null when the call asked for no cache.</param>
public sealed record CausalLMOutput(Tensor Logits, KeyValueCache? PastKeyValues);
