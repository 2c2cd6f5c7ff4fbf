using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Tessera.Export;
using Tessera.Export.Decoders;
using Tessera.Export.Encoders;
using Tessera.Transformers;

namespace Tessera.Cli;

static class ExportCommand
{
    public static Command Create()
    {
        var modelDir = new Argument<string>("model") { Description = "Model folder (config.json + model.safetensors)" };
        var output = new Option<string?>("--out")
        {
            Description = "Output .onnx file, or a folder (ending in / or existing) that gets model.onnx plus config.json and preprocessor_config.json [default: <model>/model.onnx]",
        };
        var opset = new Option<int>("--opset") { Description = "ONNX opset (at least 17), for every kind of model folder", DefaultValueFactory = _ => OnnxGraphBuilder.DefaultOpset }.AtLeast(17);
        var noVerify = new Option<bool>("--no-verify") { Description = "Skip running the graph in ONNX Runtime against TorchSharp before writing it" };
        var fusedAttention = new Option<bool>("--ort-fused-attention")
        {
            Description = "GPT-2 decoders: write each layer's attention as ONNX Runtime's contrib MultiHeadAttention (faster token-by-token generation; the file then runs only on ONNX Runtime)",
        };
        var command = new Command("export", "Export a model folder to ONNX; checks the graph in ONNX Runtime against TorchSharp and prints the largest difference. A Hugging Face folder goes to --out as a folder [default: <model>/onnx]: a causal LM (gpt2, llama, qwen2, mistral) as a decoder with past key/values, BERT as an encoder")
        {
            modelDir, output, opset, noVerify, fusedAttention,
        };
        command.SetAction(parse =>
        {
            string folder = parse.GetValue(modelDir)!;
            if (TransformersModelType(folder) is { } modelType)
            {
                if (AutoModelForCausalLM.SupportedModelTypes.Contains(modelType))
                    ExportDecoder(folder, parse.GetValue(output), parse.GetValue(opset), !parse.GetValue(noVerify), parse.GetValue(fusedAttention), parse.InvocationConfiguration.Output);
                else
                    ExportEncoder(folder, parse.GetValue(output), parse.GetValue(opset), !parse.GetValue(noVerify), parse.InvocationConfiguration.Output);
                return 0;
            }
            Models.ModelFolder.Open(folder); // a missing or malformed folder fails before --out's folder is created
            var (file, outFolder) = OnnxPaths.Output(parse.GetValue(output) ?? Path.Combine(folder, Runtime.OnnxModel.ModelFileName));
            var report = OnnxExporter.ExportFolder(folder, file, new OnnxExportOptions { Opset = parse.GetValue(opset), Verify = !parse.GetValue(noVerify) });
            if (outFolder is not null) OnnxPaths.CopyFolderFiles(folder, outFolder);
            Print(report, parse.InvocationConfiguration.Output);
            return 0;
        });
        return command;
    }

    /// <summary>The folder's Hugging Face <c>model_type</c> when it is a transformers architecture (gpt2, llama, bert, ...); null otherwise.</summary>
    static string? TransformersModelType(string folder)
    {
        string config = Path.Combine(folder, "config.json");
        if (!File.Exists(config)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(config));
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("model_type", out var t)
                && t.ValueKind == JsonValueKind.String && PretrainedConfig.SupportedModelTypes.Contains(t.GetString())
                ? t.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null; // ModelFolder.Open reports the malformed file
        }
    }

    /// <summary>A causal LM goes to a folder (model.onnx with past key/values + config and tokenizer files) [default: &lt;model&gt;/onnx].</summary>
    static void ExportDecoder(string folder, string? output, int opset, bool verify, bool fusedAttention, TextWriter writer)
    {
        string outDir = OutputFolder(folder, output);
        using var model = AutoModelForCausalLM.FromPretrained(folder);
        var report = DecoderOnnxExporter.Export(model, outDir, new TransformerExportOptions { SourceFolder = folder, Opset = opset, Verify = verify, OrtFusedAttention = fusedAttention });
        writer.WriteLine($"wrote {report.ModelPath}{(report.ExternalDataPath is { } d ? $" (+ {d})" : "")}, opset {opset}");
        writer.WriteLine($"decoder with past key/values: {report.NumLayers} layers, {report.KeyValueHeads} kv heads x {report.HeadDim}, vocab {report.VocabSize}; copied {string.Join(", ", report.CopiedFiles)}");
        writer.WriteLine(report.PrefillMaxAbs is { } p && report.DecodeMaxAbs is { } q
            ? string.Create(CultureInfo.InvariantCulture, $"max abs error vs TorchSharp: prefill {p:0.0e+00}, decode step {q:0.0e+00}")
            : "not verified (--no-verify)");
    }

    /// <summary>A BERT folder becomes the head its <c>architectures</c> names (masked LM, sequence classification, else the bare encoder).</summary>
    static void ExportEncoder(string folder, string? output, int opset, bool verify, TextWriter writer)
    {
        string outDir = OutputFolder(folder, output);
        var architectures = AutoConfig.FromPretrained(folder).Architectures ?? [];
        using PreTrainedModel model = architectures.Contains("BertForMaskedLM") ? AutoModelForMaskedLM.FromPretrained(folder)
            : architectures.Contains("BertForSequenceClassification") ? AutoModelForSequenceClassification.FromPretrained(folder)
            : AutoModel.FromPretrained(folder);
        var report = EncoderOnnxExporter.Export(model, outDir, new TransformerExportOptions { SourceFolder = folder, Opset = opset, Verify = verify });
        writer.WriteLine($"wrote {report.ModelPath}{(report.ExternalDataPath is { } d ? $" (+ {d})" : "")}, opset {opset}");
        writer.WriteLine($"{model.GetType().Name} encoder: outputs {string.Join(", ", report.OutputNames)}; copied {string.Join(", ", report.CopiedFiles)}");
        writer.WriteLine(report.MaxAbs is { } m
            ? string.Create(CultureInfo.InvariantCulture, $"max abs error vs TorchSharp: {m:0.0e+00}")
            : "not verified (--no-verify)");
    }

    static string OutputFolder(string folder, string? output) =>
        output is null ? Path.Combine(folder, "onnx")
        : output.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) ? Path.GetDirectoryName(Path.GetFullPath(output))!
        : output;

    static void Print(OnnxExportReport report, TextWriter output)
    {
        long size = new FileInfo(report.Path).Length + (report.ExternalDataPath is { } data ? new FileInfo(data).Length : 0);
        output.WriteLine($"wrote {report.Path}{(report.ExternalDataPath is { } d ? $" (+ {d})" : "")}");
        output.WriteLine($"opset {report.Opset}, {report.NodeCount} nodes, {OnnxPaths.Size(size)}");
        output.WriteLine(report.Verified
            ? string.Create(CultureInfo.InvariantCulture,
                $"max abs error vs TorchSharp: {report.MaxAbsoluteError:0.0e+00} (relative {report.MaxRelativeError:0.0e+00}; batch {string.Join(", ", report.VerifiedBatchSizes)})")
            : "not verified (--no-verify)");
    }
}
