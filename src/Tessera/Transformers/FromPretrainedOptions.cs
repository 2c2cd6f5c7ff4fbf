using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>How <c>FromPretrained</c> builds and fills a model.</summary>
public sealed record FromPretrainedOptions
{
    /// <summary>
    /// Element type of the model's floating-point weights. Null (the default) means float32, as <c>transformers</c>
    /// does without <c>torch_dtype</c>: float16/bfloat16 checkpoints are converted tensor by tensor while copying.
    /// </summary>
    public ScalarType? Dtype { get; init; }

    /// <summary>When true and <see cref="Dtype"/> is null, use the checkpoint's <c>torch_dtype</c> from config.json (<c>torch_dtype="auto"</c>).</summary>
    public bool UseConfigDtype { get; init; }

    /// <summary>Device for the model; the CPU when null.</summary>
    public Device? Device { get; init; }

    /// <summary>
    /// When false (the default) a model parameter that the checkpoint does not provide is an error naming it; set true
    /// to keep such parameters as initialised (e.g. a new classification head on a pretrained encoder).
    /// </summary>
    public bool AllowMissingKeys { get; init; }

    /// <summary>
    /// When false (the default) a checkpoint tensor that fills no parameter is an error listing it (a config smaller
    /// than its weights must not load silently); set true to skip such tensors. Tensors the model declares ignorable and
    /// another head's tensors in a head's checkpoint are skipped either way.
    /// </summary>
    public bool AllowUnexpectedKeys { get; init; }
}
