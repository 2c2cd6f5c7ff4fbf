using System.CommandLine;
using Tessera.Recipes;

namespace Tessera.Cli;

static class FinetuneCommand
{
    public static Command Create()
    {
        var defaults = new LoraFinetuningOptions { ModelFolder = "", Data = "" };
        var model = new Argument<string>("model") { Description = "Base model folder (config.json, safetensors, tokenizer): a causal LM, or BERT with --task classify" };
        var data = new Option<string>("--data") { Description = "JSONL file, one object per line with a text field (classify: CSV with a header row, JSONL, Parquet, a Hub-style dataset folder, or hub:org/name[@revision] downloaded into the HF cache)", Required = true };
        var textField = new Option<string>("--text-field") { Description = "JSON field holding the text (loss on all tokens)", DefaultValueFactory = _ => defaults.TextField };
        var promptField = new Option<string>("--prompt-field") { Description = "Prompt field; lines with prompt and completion fields get the loss on the completion only", DefaultValueFactory = _ => defaults.PromptField };
        var completionField = new Option<string>("--completion-field") { Description = "Completion field", DefaultValueFactory = _ => defaults.CompletionField };
        var r = new Option<int>("--lora-r") { Description = "LoRA rank r", DefaultValueFactory = _ => defaults.R }.AtLeast(1);
        var alpha = new Option<double>("--lora-alpha") { Description = "lora_alpha (scaling alpha/r)", DefaultValueFactory = _ => defaults.Alpha }.PositiveFinite();
        var dropout = new Option<double>("--lora-dropout") { Description = "Dropout on the LoRA input", DefaultValueFactory = _ => defaults.Dropout }.Fraction();
        var target = new Option<string?>("--target") { Description = "Comma-separated target modules [default: c_attn for GPT-2, q_proj,v_proj for Llama]" };
        var maxSteps = new Option<long>("--max-steps") { Description = "Optimizer steps", DefaultValueFactory = _ => defaults.MaxSteps }.AtLeast(1);
        var batch = new Option<int>("--batch-size") { Description = "Blocks per batch", DefaultValueFactory = _ => defaults.BatchSize }.AtLeast(1);
        var block = new Option<int>("--block-size") { Description = "Tokens per packed block (capped at the model's context)", DefaultValueFactory = _ => defaults.BlockSize }.AtLeast(1);
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW, warmup, cosine to a tenth)", DefaultValueFactory = _ => defaults.LearningRate }.PositiveFinite();
        var validateEvery = new Option<int>("--validate-every") { Description = "Validate every N steps on every 20th line", DefaultValueFactory = _ => defaults.ValidateEvery }.AtLeast(1);
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => defaults.Seed };
        var output = new Option<string>("--out") { Description = "Output folder (adapter/, checkpoints/, metrics.csv, README.md)", DefaultValueFactory = _ => defaults.OutputDir };
        var resume = new Option<bool>("--resume") { Description = "Continue from <out>/checkpoints/last (saved every --validate-every steps)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the run already in --out; without it or --resume a non-empty --out is refused" };
        var task = new Option<string>("--task") { Description = "causal-lm (JSONL text or prompt/completion) or classify (a BERT folder on CSV/JSONL text+label)", DefaultValueFactory = _ => "causal-lm" };
        task.AcceptOnlyFromAmong("causal-lm", "classify");
        var textColumn = new Option<string>("--text-column") { Description = "classify: CSV column / JSONL field of the text", DefaultValueFactory = _ => defaults.TextColumn };
        var labelColumn = new Option<string>("--label-column") { Description = "classify: CSV column / JSONL field of the label (strings or integers)", DefaultValueFactory = _ => defaults.LabelColumn };
        var valData = new Option<string?>("--val-data") { Description = "classify: validation file [default: the dataset's validation (else test) split, else every 10th example of --data]" };
        var full = new Option<bool>("--full") { Description = "classify: fine-tune all weights instead of LoRA (saves <out>/model)" };
        var strategy = StrategyOption.Create();
        var precision = PrecisionOption.Create();
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto", DefaultValueFactory = _ => defaults.Device };
        var command = new Command("finetune", "Fine-tune LoRA adapters of a causal LM on JSONL (text lines: loss on all tokens; prompt/completion lines: on the completion); saves the adapter in PEFT's layout")
        {
            model, data, textField, promptField, completionField, r, alpha, dropout, target, maxSteps, batch, block, lr, validateEvery, seed, output, resume, overwrite, device, task, textColumn, labelColumn, valData, full, strategy, precision,
        };
        command.SetAction(parse => StrategyOption.Run(parse.GetValue(strategy)!, chosen =>
        {
            var writer = parse.InvocationConfiguration.Output;
            var options = new LoraFinetuningOptions
            {
                ModelFolder = parse.GetValue(model)!,
                Data = parse.GetValue(data)!,
                TextField = parse.GetValue(textField)!,
                PromptField = parse.GetValue(promptField)!,
                CompletionField = parse.GetValue(completionField)!,
                R = parse.GetValue(r),
                Alpha = parse.GetValue(alpha),
                Dropout = parse.GetValue(dropout),
                TargetModules = parse.GetValue(target) is { } t ? t.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null,
                MaxSteps = parse.GetValue(maxSteps),
                BatchSize = parse.GetValue(batch),
                BlockSize = parse.GetValue(block),
                LearningRate = parse.GetValue(lr),
                ValidateEvery = parse.GetValue(validateEvery),
                Seed = parse.GetValue(seed),
                OutputDir = parse.GetValue(output)!,
                Device = parse.GetValue(device)!,
                Precision = parse.GetValue(precision)!,
                Resume = parse.GetValue(resume),
                Overwrite = parse.GetValue(overwrite),
                TextColumn = parse.GetValue(textColumn)!,
                LabelColumn = parse.GetValue(labelColumn)!,
                ValData = parse.GetValue(valData),
                Full = parse.GetValue(full),
                Strategy = chosen,
            };
            if (!chosen.IsGlobalZero) writer = TextWriter.Null;
            if (parse.GetValue(task) == "classify")
            {
                var classified = ClassifierFinetuning.Run(options, writer);
                writer.WriteLine($"train loss {classified.TrainLoss:0.000}, validation loss {classified.ValidationLoss:0.000}, validation accuracy {classified.ValidationAccuracy:0.000}, {classified.Steps} steps; {(options.Full ? "model" : "adapter")}: {classified.AdapterDir}");
                return 0;
            }
            var result = LoraFinetuning.Run(options, writer);
            writer.WriteLine($"train loss {result.TrainLoss:0.000}, validation loss {result.ValidationLoss:0.000}, {result.Steps} steps; adapter: {result.AdapterDir}");
            return 0;
        }));
        return command;
    }
}
