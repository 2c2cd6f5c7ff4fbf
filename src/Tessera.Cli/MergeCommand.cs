using System.CommandLine;
using Tessera.Adapters;

namespace Tessera.Cli;

static class MergeCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Base model folder (config.json, safetensors, tokenizer)" };
        var adapter = new Argument<string>("adapter") { Description = "LoRA adapter folder in PEFT's layout (adapter_config.json, adapter_model.safetensors)" };
        var output = new Option<string>("--out") { Description = "Folder for the merged model", Required = true };
        var command = new Command("merge", "Merge a LoRA adapter into its base model and save a plain model folder (loadable by transformers, exportable to ONNX)")
        {
            model, adapter, output,
        };
        command.SetAction(parse =>
        {
            string outDir = parse.GetValue(output)!;
            var (parameters, layers) = LoraMerge.MergeFolder(parse.GetValue(model)!, parse.GetValue(adapter)!, outDir);
            parse.InvocationConfiguration.Output.WriteLine($"merged {layers} adapted layers into a {parameters / 1e6:0.00}M-parameter model: {Path.GetFullPath(outDir)}");
            return 0;
        });
        return command;
    }
}
