using Tessera.Text;
using Tessera.Text.Generation;

namespace Tessera.Runtime.Generation;

/// <summary>
/// Text generation from an exported decoder folder with ONNX Runtime only: <c>model.onnx</c> (<see cref="OrtCausalLM"/>),
/// its tokenizer and its <c>generation_config.json</c> defaults. Prompt in, text out (whole or streamed), stop strings
/// cut before the stop string, the same loop and sampler as TorchSharp generation (<see cref="CausalLMGeneration"/>).
/// </summary>
/// <example><code>
/// using var generator = OrtTextGenerator.FromPretrained("gpt2-onnx");
/// await foreach (string piece in generator.GenerateStream("Once upon a time", generator.GenerationConfig with { MaxNewTokens = 40 }))
///     Console.Write(piece);
/// </code></example>
public sealed class OrtTextGenerator : IDisposable
{
    /// <summary>Combines a loaded model, its tokenizer and the generation defaults; the generator owns <paramref name="model"/>.</summary>
    /// <param name="model">The decoder; disposed with the generator.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="generationConfig">Settings used when a call passes none; null for <see cref="GenerationConfig"/>'s defaults.</param>
    public OrtTextGenerator(OrtCausalLM model, HfTokenizer tokenizer, GenerationConfig? generationConfig = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        GenerationConfig = generationConfig ?? new GenerationConfig();
    }

    /// <summary>The decoder.</summary>
    public OrtCausalLM Model { get; }

    /// <summary>The tokenizer.</summary>
    public HfTokenizer Tokenizer { get; }

    /// <summary>The settings used when a call passes none (the folder's <c>generation_config.json</c> for <see cref="FromPretrained"/>).</summary>
    public GenerationConfig GenerationConfig { get; }

    /// <summary>
    /// True for a folder that holds <c>model.onnx</c> (at its root or in <c>onnx/</c>) and no safetensors weights: what
    /// <c>tessera export</c> writes for a causal LM.
    /// </summary>
    public static bool IsDecoderFolder(string folder) =>
        Directory.Exists(folder) && OnnxModel.FindModelFile(folder) is not null && !Directory.EnumerateFiles(folder, "*.safetensors").Any();

    /// <summary>Loads <c>model.onnx</c>, the tokenizer files and <c>generation_config.json</c> (else config.json's token ids) of <paramref name="folder"/>.</summary>
    /// <param name="folder">An exported decoder folder.</param>
    /// <param name="options">Session options; null for the defaults.</param>
    /// <exception cref="OnnxModelException">model.onnx is missing, rejected by ONNX Runtime, or not a decoder with past key/values.</exception>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A JSON or tokenizer file is invalid.</exception>
    /// <exception cref="FileNotFoundException">There are no tokenizer files.</exception>
    public static OrtTextGenerator FromPretrained(string folder, OnnxSessionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        HfTokenizer tokenizer = AutoTokenizer.FromPretrained(folder);
        GenerationConfig defaults = GenerationConfig.Load(folder);
        return new OrtTextGenerator(OrtCausalLM.Load(folder, options), tokenizer, defaults);
    }

    /// <summary>Generates a completion of <paramref name="prompt"/>; see <see cref="CausalLMGeneration.Generate(ICausalLMBackend, HfTokenizer, string, GenerationConfig?)"/>.</summary>
    /// <param name="prompt">The text to continue.</param>
    /// <param name="config">Settings; null uses <see cref="GenerationConfig"/>.</param>
    /// <exception cref="ArgumentException">The config is invalid, or the prompt fills the model's context (see <see cref="GenerationConfig.TruncatePrompt"/>).</exception>
    public GenerationResult Generate(string prompt, GenerationConfig? config = null) =>
        Model.Generate(Tokenizer, prompt, config ?? GenerationConfig);

    /// <summary>Generates a completion of <paramref name="prompt"/> piece by piece; see <see cref="CausalLMGeneration.GenerateStream"/>.</summary>
    /// <param name="prompt">The text to continue.</param>
    /// <param name="config">Settings; null uses <see cref="GenerationConfig"/>.</param>
    /// <param name="cancellationToken">Stops generation between tokens.</param>
    /// <exception cref="ArgumentException">The config is invalid, or the prompt fills the model's context (see <see cref="GenerationConfig.TruncatePrompt"/>).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IAsyncEnumerable<string> GenerateStream(string prompt, GenerationConfig? config = null, CancellationToken cancellationToken = default) =>
        Model.GenerateStream(Tokenizer, prompt, config ?? GenerationConfig, cancellationToken);

    /// <summary>Frees the ONNX Runtime session.</summary>
    public void Dispose() => Model.Dispose();
}
