using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>What <see cref="BertModel"/> returns.</summary>
/// <param name="LastHiddenState">Hidden states of the last layer [batch, seq, hidden_size].</param>
/// <param name="PoolerOutput">tanh(dense(first token)) [batch, hidden_size]; null when the model has no pooler.</param>
public sealed record EncoderOutput(Tensor LastHiddenState, Tensor? PoolerOutput);
