using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Export;

/// <summary>
/// Exports TorchSharp modules to ONNX: each module is written by its emitter (its own <see cref="IOnnxEmitter"/>
/// implementation or the <see cref="OnnxEmitterRegistry"/>), the model is written to a temporary file, checked in
/// ONNX Runtime against TorchSharp on the sample input and on a random input with another batch size, and only then
/// renamed into place.
/// </summary>
public static class OnnxExporter
{
    /// <summary><c>metadata_props</c> key of the Tessera version that wrote the file.</summary>
    public const string VersionKey = "tessera_version";
    /// <summary><c>metadata_props</c> key of the sha256 (hex) of the source weights.</summary>
    public const string WeightsSha256Key = "tessera.weights_sha256";
    /// <summary><c>metadata_props</c> key saying what <see cref="WeightsSha256Key"/> hashes: <c>model.safetensors</c> or <c>initializers</c>.</summary>
    public const string WeightsSourceKey = "tessera.weights_source";
    /// <summary><c>metadata_props</c> key of the model's <c>config.json</c> (when exported from a model folder).</summary>
    public const string ConfigKey = "tessera.config";
    /// <summary><c>metadata_props</c> key of the <c>preprocessor_config.json</c> content (JSON).</summary>
    public const string PreprocessingKey = "tessera.preprocessing";
    /// <summary><c>metadata_props</c> key of the class names as a JSON object <c>{"0": "T-shirt", ...}</c>.</summary>
    public const string Id2LabelKey = "tessera.id2label";

    /// <summary>
    /// Exports <paramref name="module"/> (put in eval mode for the export, its training flag restored afterwards)
    /// as an ONNX model at <paramref name="path"/>.
    /// </summary>
    /// <param name="module">The model; its forward must be what its emitters describe.</param>
    /// <param name="sampleInput">An input the model accepts; gives the input's element type, rank and static sizes.</param>
    /// <param name="path">Destination <c>.onnx</c> file; replaced only when the export (and verification) succeeds.</param>
    /// <param name="options">Names, dynamic axes, verification and external-data settings; defaults when null.</param>
    /// <returns>What was written and the measured difference between ONNX Runtime and TorchSharp.</returns>
    /// <exception cref="OnnxExportException">A module cannot be exported (the message names its path and type), or verification failed.</exception>
    /// <exception cref="ArgumentException">The options name dynamic axes of unknown values or out-of-range axes.</exception>
    public static OnnxExportReport Export(nn.Module<Tensor, Tensor> module, Tensor sampleInput, string path, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(sampleInput);
        ArgumentException.ThrowIfNullOrEmpty(path);
        return ExportCore(module, sampleInput, path, options ?? new OnnxExportOptions(), null);
    }

    /// <summary>
    /// Loads a model folder (<c>config.json</c> + <c>model.safetensors</c>) and exports it with a sample input
    /// <c>[1, C, H, W]</c> from its config and preprocessing. The config, the weights file's sha256, the preprocessing
    /// and the labels go into <c>metadata_props</c> (<see cref="ConfigKey"/>, <see cref="WeightsSha256Key"/>,
    /// <see cref="PreprocessingKey"/>, <see cref="Id2LabelKey"/>), so a runtime without the folder can still preprocess.
    /// </summary>
    /// <exception cref="Formats.TesseraFormatException">The folder is missing or malformed.</exception>
    /// <exception cref="OnnxExportException">As for <see cref="Export"/>.</exception>
    public static OnnxExportReport ExportFolder(string modelFolder, string path, OnnxExportOptions? options = null)
    {
        var folder = ModelFolder.Open(modelFolder);
        var exporter = ModelRegistry.Exporter(folder.Config.ModelType) as ImageClassifierExporter
            ?? throw new OnnxExportException($"{modelFolder}: no sample input shape known for model_type {folder.Config.ModelType}");
        long[] shape = exporter.SampleShape(folder.Config, folder.Preprocessing);
        using var model = folder.LoadModel();
        using var scope = NewDisposeScope();
        var pre = folder.Preprocessing;
        using var generator = new Generator(0);
        var sample = randn(shape, generator: generator);
        var metadata = new Dictionary<string, string>
        {
            [ConfigKey] = File.ReadAllText(Path.Combine(folder.Path, ModelFolder.ConfigFile)).Trim(),
            [WeightsSha256Key] = Sha256OfFile(Path.Combine(folder.Path, ModelFolder.WeightsFile)),
            [WeightsSourceKey] = ModelFolder.WeightsFile,
            [PreprocessingKey] = JsonSerializer.Serialize(pre),
            ["tessera.model_type"] = folder.Config.ModelType,
        };
        if (folder.Labels.Count > 0)
            metadata[Id2LabelKey] = new JsonObject(folder.Labels.Select((l, i) => KeyValuePair.Create(i.ToString(System.Globalization.CultureInfo.InvariantCulture), (JsonNode?)l))).ToJsonString();
        return ExportCore(model, sample, path, options ?? new OnnxExportOptions(), metadata);
    }

    static OnnxExportReport ExportCore(nn.Module<Tensor, Tensor> module, Tensor sample, string path, OnnxExportOptions options, Dictionary<string, string>? extraMetadata)
    {
        if (options.Opset < 17) throw new ArgumentOutOfRangeException(nameof(options), options.Opset, "opset must be at least 17 (LayerNormalization)");
        bool wasTraining = module.training;
        module.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var builder = new OnnxGraphBuilder(module.GetType().Name, options.Opset);
            var context = new OnnxExportContext(builder, options.Emitters ?? OnnxEmitterRegistry.CreateDefault(), sample.device);

            builder.AddInput(options.InputName, OnnxGraphBuilder.ToOnnxType(sample.dtype), Dims(sample.shape, options.InputName, options));
            context.SetShape(options.InputName, sample.shape, sample.dtype);
            string result = context.Emit(module, options.InputName);

            var reference = module.call(sample);
            if (result == options.OutputName) { }
            else if (builder.IsInput(result) || builder.IsInitializer(result) || builder.Contains(options.OutputName))
                builder.AddNode("Identity", [result], [options.OutputName]);
            else
                builder.Rename(result, options.OutputName);
            builder.AddOutput(options.OutputName, OnnxGraphBuilder.ToOnnxType(reference.dtype), Dims(reference.shape, options.OutputName, options));
            CheckDynamicAxes(options);

            var graph = builder.Graph;
            long initializerBytes = graph.Initializer.Sum(t => (long)t.RawData.Length);
            var metadata = new Dictionary<string, string>
            {
                [VersionKey] = TesseraInfo.Version,
                [WeightsSha256Key] = Sha256OfInitializers(graph),
                [WeightsSourceKey] = "initializers",
            };
            foreach (var (k, v) in extraMetadata ?? []) metadata[k] = v;
            foreach (var (k, v) in options.Metadata ?? new Dictionary<string, string>()) metadata[k] = v;
            var model = builder.Build(metadata, $"Exported by Tessera {TesseraInfo.Version} from {module.GetType().Name}");

            bool external = options.ExternalData ?? initializerBytes > options.ExternalDataThreshold;
            OnnxVerifier.Result? verification = null;
            string? dataPath = OnnxFileWriter.Write(model, path, external, tempModel =>
            {
                if (options.Verify) verification = OnnxVerifier.Verify(module, sample, tempModel, options);
            });
            return new OnnxExportReport
            {
                Path = Path.GetFullPath(path),
                ExternalDataPath = dataPath,
                InputNames = [options.InputName],
                OutputNames = [options.OutputName],
                Opset = options.Opset,
                Verified = verification is not null,
                MaxAbsoluteError = verification?.MaxAbs ?? double.NaN,
                MaxRelativeError = verification?.MaxRel ?? double.NaN,
                VerifiedBatchSizes = verification?.BatchSizes ?? [],
                Metadata = metadata,
                NodeCount = graph.Node.Count,
                InitializerBytes = initializerBytes,
            };
        }
        finally
        {
            if (wasTraining) module.train();
        }
    }

    static OnnxDimension[] Dims(long[] shape, string valueName, OnnxExportOptions options)
    {
        var dims = shape.Select(d => (OnnxDimension)d).ToArray();
        if (options.DynamicBatch && dims.Length > 0) dims[0] = "batch";
        if (options.DynamicAxes?.TryGetValue(valueName, out var axes) == true)
            foreach (var (axis, name) in axes)
            {
                int a = axis < 0 ? axis + dims.Length : axis;
                if (a < 0 || a >= dims.Length)
                    throw new ArgumentException($"dynamic axis {axis} of '{valueName}' is out of range for rank {dims.Length}", nameof(options));
                dims[a] = name;
            }
        return dims;
    }

    static void CheckDynamicAxes(OnnxExportOptions options)
    {
        foreach (var key in options.DynamicAxes?.Keys ?? Enumerable.Empty<string>())
            if (key != options.InputName && key != options.OutputName)
                throw new ArgumentException($"dynamic axes name '{key}', which is neither the input '{options.InputName}' nor the output '{options.OutputName}'", nameof(options));
    }

    /// <summary>sha256 over the initializers' raw bytes in graph order (name, then data), as lowercase hex.</summary>
    static string Sha256OfInitializers(Formats.Onnx.GraphProto graph)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in graph.Initializer)
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(t.Name + "\0"));
            sha.AppendData(t.RawData.Span);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    static string Sha256OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
