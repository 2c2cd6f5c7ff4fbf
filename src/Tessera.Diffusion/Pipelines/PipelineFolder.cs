using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Formats;

namespace Tessera.Diffusion.Pipelines;

/// <summary>
/// Where the parts of a diffusion pipeline folder are, in either layout diffusers uses: <c>model_index.json</c> naming
/// the components with <c>unet/</c> and <c>scheduler/</c> subfolders, or the flat layout of older hub repos
/// (<c>config.json</c>, the weights and <c>scheduler_config.json</c> at the root, e.g. <c>google/ddpm-cifar10-32</c>).
/// A UNet folder holds <c>config.json</c> plus <c>diffusion_pytorch_model.safetensors</c> (TorchSharp) or
/// <c>model.onnx</c> (ONNX Runtime).
/// </summary>
public sealed record PipelineFolder
{
    /// <summary>The index file of the diffusers layout.</summary>
    public const string IndexFile = "model_index.json";
    /// <summary>The scheduler config file name.</summary>
    public const string SchedulerConfigFile = "scheduler_config.json";
    /// <summary>The ONNX UNet file name inside the UNet folder.</summary>
    public const string OnnxFile = "model.onnx";
    /// <summary>The UNet's safetensors weights file name inside the UNet folder (diffusers' name).</summary>
    public const string WeightsFile = "diffusion_pytorch_model.safetensors";
    /// <summary>The diffusers version written into new index files.</summary>
    public const string DiffusersVersion = "0.31.0";

    /// <summary>The pipeline folder.</summary>
    public required string Root { get; init; }
    /// <summary>The folder with the UNet's <c>config.json</c> and weights.</summary>
    public required string UNetFolder { get; init; }
    /// <summary>The folder with <c>scheduler_config.json</c>.</summary>
    public required string SchedulerFolder { get; init; }
    /// <summary>The pipeline class (<c>_class_name</c> of <c>model_index.json</c>), e.g. <c>DDPMPipeline</c>; null for the flat layout.</summary>
    public string? ClassName { get; init; }
    /// <summary>Whether the components are at the root (flat layout).</summary>
    public bool IsFlat { get; init; }
    /// <summary>Whether the UNet is an ONNX model (<c>model.onnx</c>) rather than safetensors weights (a folder with both loads its weights).</summary>
    public bool IsOnnx => File.Exists(Path.Combine(UNetFolder, OnnxFile)) && !File.Exists(Path.Combine(UNetFolder, WeightsFile));

    /// <summary>Whether <paramref name="folder"/> looks like a pipeline folder (an index, or a flat layout with a scheduler config).</summary>
    public static bool IsPipeline(string folder) =>
        File.Exists(Path.Combine(folder, IndexFile)) || File.Exists(Path.Combine(folder, SchedulerConfigFile));

    /// <summary>Finds the parts of the pipeline in <paramref name="folder"/> and checks they are there.</summary>
    /// <exception cref="TesseraFormatException">The folder does not exist, is not a pipeline folder, its index is malformed or names a component whose folder or config is missing; the message names the file.</exception>
    public static PipelineFolder Open(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new TesseraFormatException(folder, "pipeline folder does not exist");
        string index = Path.Combine(folder, IndexFile);
        PipelineFolder result;
        if (File.Exists(index))
        {
            JsonObject obj;
            try
            {
                obj = JsonNode.Parse(File.ReadAllText(index), documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true }) as JsonObject
                    ?? throw new TesseraFormatException(index, "expected a JSON object");
            }
            catch (JsonException e)
            {
                throw new TesseraFormatException(index, "invalid JSON: " + e.Message, e);
            }
            foreach (string component in new[] { "unet", "scheduler" })
                if (obj[component] is not JsonArray { Count: 2 })
                    throw new TesseraFormatException(index, $"\"{component}\": expected [library, class], e.g. [\"diffusers\", \"{(component == "unet" ? "UNet2DModel" : "DDIMScheduler")}\"]");
            result = new PipelineFolder
            {
                Root = folder,
                UNetFolder = Path.Combine(folder, "unet"),
                SchedulerFolder = Path.Combine(folder, "scheduler"),
                ClassName = obj["_class_name"]?.GetValueKind() == JsonValueKind.String ? obj["_class_name"]!.GetValue<string>() : null,
            };
        }
        else if (File.Exists(Path.Combine(folder, SchedulerConfigFile)))
        {
            result = new PipelineFolder { Root = folder, UNetFolder = folder, SchedulerFolder = folder, IsFlat = true };
        }
        else
        {
            throw new TesseraFormatException(folder,
                $"not a diffusion pipeline folder: no {IndexFile} (diffusers layout) and no {SchedulerConfigFile} (flat layout)");
        }
        if (!Directory.Exists(result.UNetFolder)) throw new TesseraFormatException(result.UNetFolder, "the pipeline's unet folder is missing");
        if (!File.Exists(Path.Combine(result.UNetFolder, "config.json")))
            throw new TesseraFormatException(Path.Combine(result.UNetFolder, "config.json"), "the UNet's config.json is missing");
        if (!File.Exists(Path.Combine(result.SchedulerFolder, SchedulerConfigFile)))
            throw new TesseraFormatException(Path.Combine(result.SchedulerFolder, SchedulerConfigFile), "the scheduler's config is missing");
        return result;
    }

    /// <summary>Writes <c>model_index.json</c> for a pipeline of <paramref name="pipelineClass"/> with the given UNet and scheduler classes, atomically.</summary>
    public static void WriteIndex(string folder, string pipelineClass, string schedulerClass, string unetLibrary = "diffusers", string unetClass = "UNet2DModel")
    {
        var obj = new JsonObject
        {
            ["_class_name"] = pipelineClass,
            ["_diffusers_version"] = DiffusersVersion,
            ["scheduler"] = new JsonArray("diffusers", schedulerClass),
            ["unet"] = new JsonArray(unetLibrary, unetClass),
        };
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, IndexFile), obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
