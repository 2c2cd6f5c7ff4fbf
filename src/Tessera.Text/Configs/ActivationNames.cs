namespace Tessera.Transformers;

/// <summary>The activations that <c>hidden_act</c> / <c>activation_function</c> in Hugging Face configs may name.</summary>
public static class ActivationNames
{
    /// <summary>The names the model code understands.</summary>
    public static IReadOnlyList<string> Supported { get; } = ["gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "silu", "swish", "tanh"];

    /// <summary>Whether <paramref name="name"/> is in <see cref="Supported"/>.</summary>
    public static bool IsSupported(string name) => Supported.Contains(name);
}
