namespace Tessera.Tracking.Runs;

/// <summary>What an artifact is, so lineage and the dashboard can treat it accordingly.</summary>
public enum ArtifactKind
{
    /// <summary>Anything else.</summary>
    Other,
    /// <summary>A model folder (config.json + weights, Hugging Face layout).</summary>
    ModelFolder,
    /// <summary>A training checkpoint.</summary>
    Checkpoint,
    /// <summary>An ONNX model file or folder.</summary>
    Onnx,
    /// <summary>A PEFT adapter folder.</summary>
    Adapter,
    /// <summary>A plot or image.</summary>
    Plot,
    /// <summary>A dataset the run read (an input, not an output).</summary>
    Dataset,
    /// <summary>A weights file (<c>*.safetensors</c>) inside a model or adapter folder: what <c>tessera runs reproduce</c> compares.</summary>
    Weights,
}
