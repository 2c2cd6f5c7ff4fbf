using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>What a decoder body (<see cref="Gpt2Model"/>, <see cref="LlamaModel"/>) returns.</summary>
/// <param name="LastHiddenState">Hidden states after the final norm [batch, new_tokens, hidden_size].</param>
/// <param name="PastKeyValues">The cache, now including the new tokens; null when the call asked for no cache.</param>
public sealed record DecoderOutput(Tensor LastHiddenState, KeyValueCache? PastKeyValues);
