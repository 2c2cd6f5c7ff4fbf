using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>The activations named by <c>hidden_act</c> / <c>activation_function</c> in Hugging Face configs.</summary>
public static class Activations
{
    /// <summary>Applies the activation called <paramref name="name"/> (as <c>transformers</c>' ACT2FN defines it).</summary>
    /// <exception cref="NotSupportedException">The name is not in <see cref="ActivationNames.Supported"/>.</exception>
    public static Tensor Apply(string name, Tensor x) => name switch
    {
        "gelu" => nn.functional.gelu(x),
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => GeluTanh(x),
        "relu" => nn.functional.relu(x),
        "silu" or "swish" => nn.functional.silu(x),
        "tanh" => x.tanh(),
        _ => throw new NotSupportedException($"activation \"{name}\" is not supported (supported: {string.Join(", ", ActivationNames.Supported)})"),
    };

    /// <summary>The tanh approximation of GELU: 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))).</summary>
    public static Tensor GeluTanh(Tensor x) => nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh); // libtorch's fused kernel, same formula
}
