using System.CommandLine;
using Tessera.Export;

namespace Tessera.Cli;

static class ExportCommand
{
    public static Command Create()
    {
        var modelDir = new Argument<string>("model") { Description = "Model folder (config.json + model.safetensors)" };
        var output = new Option<string?>("--out")
        {
            Description = "Image models: output .onnx file, or a folder (ending in / or existing) that gets model.onnx plus config.json and preprocessor_config.json [default: <model>/model.onnx]. Transformers: a folder that gets onnx/model.onnx with config, generation and tokenizer files at its root (transformers.js layout) [default: the model folder]",
        };
        var opset = new Option<int>("--opset") { Description = "ONNX opset (at least 17), for every kind of model folder", DefaultValueFactory = _ => OnnxGraphBuilder.DefaultOpset }.AtLeast(17);
        var noVerify = new Option<bool>("--no-verify") { Description = "Skip running the graph in ONNX Runtime against TorchSharp before writing it" };
        var fusedAttention = new Option<bool>("--ort-fused-attention")
        {
            Description = "GPT-2 decoders: write each layer's attention as ONNX Runtime's contrib MultiHeadAttention (faster token-by-token generation; the file then runs only on ONNX Runtime)",
        };
        var format = new Option<string>("--format") { Description = "onnx, or ort: the .onnx plus an ORT-format copy (<model>.ort, optimized at ORT_ENABLE_EXTENDED) and required_operators.config beside it", DefaultValueFactory = _ => "onnx" };
        format.AcceptOnlyFromAmong("onnx", "ort");
        var command = new Command("export", "Export a model folder to ONNX; checks the graph in ONNX Runtime against TorchSharp and prints the largest difference. A Hugging Face folder goes to --out as a folder, graph in onnx/model.onnx [default: <model>/onnx/model.onnx]: a causal LM (gpt2, llama, qwen2, mistral) as a decoder with past key/values, BERT as an encoder")
        {
            modelDir, output, opset, noVerify, fusedAttention, format,
        };
        command.SetAction(parse =>
        {
            // The folder's model_type picks the exporter registered for its architecture (ModelRegistry).
            var result = ModelExport.Export(parse.GetValue(modelDir)!, parse.GetValue(output), new ModelExportOptions
            {
                Opset = parse.GetValue(opset), Verify = !parse.GetValue(noVerify), OrtFusedAttention = parse.GetValue(fusedAttention),
            });
            foreach (string line in result.Summary) parse.InvocationConfiguration.Output.WriteLine(line);
            if (parse.GetValue(format) == "ort")
            {
                string ort = Path.ChangeExtension(result.ModelPath, ".ort");
                var operators = Runtime.Conversion.OrtFormatConverter.Convert(result.ModelPath, ort);
                string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(ort))!, Runtime.Conversion.RequiredOperators.FileName);
                operators.Save(config);
                parse.InvocationConfiguration.Output.WriteLine($"wrote {Path.GetFullPath(ort)} and {config}");
            }
            return 0;
        });
        return command;
    }
}
