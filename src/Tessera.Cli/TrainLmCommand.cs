using System.CommandLine;
using Tessera.Recipes;

namespace Tessera.Cli;

static class TrainLmCommand
{
    public static Command Create()
    {
        var defaults = new LanguageModelTrainingOptions();
        var data = new Option<string>("--data") { Description = "Text file, or folder of fortune files; or a Hub-style dataset (.parquet/.jsonl/.jsonl.gz file, a folder of them, hub:org/name[@revision]) read from its train split's --text-column", DefaultValueFactory = _ => defaults.Data };
        var textColumn = new Option<string>("--text-column") { Description = "Text column of a Hub-style dataset", DefaultValueFactory = _ => defaults.TextColumn };
        var model = new Option<string>("--model") { Description = "Architecture: gpt2-tiny (4x128) or gpt2-mini (6x192)", DefaultValueFactory = _ => defaults.Model };
        model.AcceptOnlyFromAmong([.. LanguageModelTraining.Models]);
        var tokenizer = new Option<string>("--tokenizer") { Description = "Vocabulary: byte (one id per byte, 257 ids) or gpt2 (GPT-2's BPE, 50257 ids)", DefaultValueFactory = _ => defaults.Tokenizer };
        tokenizer.AcceptOnlyFromAmong([.. LanguageModelTraining.Tokenizers]);
        var maxSteps = new Option<long>("--max-steps") { Description = "Optimizer steps", DefaultValueFactory = _ => defaults.MaxSteps }.AtLeast(1);
        var dropout = new Option<double>("--dropout") { Description = "Dropout of embeddings, attention and residuals (config.json's embd/attn/resid_pdrop); 0 for exact data-parallel equivalence", DefaultValueFactory = _ => defaults.Dropout }.Fraction();
        var batch = new Option<int>("--batch-size") { Description = "Blocks per batch", DefaultValueFactory = _ => defaults.BatchSize }.AtLeast(1);
        var block = new Option<int>("--block-size") { Description = "Tokens per block = the model's context", DefaultValueFactory = _ => defaults.BlockSize }.AtLeast(1);
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW, warmup, cosine to a tenth)", DefaultValueFactory = _ => defaults.LearningRate }.PositiveFinite();
        var validateEvery = new Option<int>("--validate-every") { Description = "Validate every N steps", DefaultValueFactory = _ => defaults.ValidateEvery }.AtLeast(1);
        var limit = new Option<int?>("--limit-chars") { Description = "Use only the first N characters of text [default: all]" }.AtLeast(1);
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => defaults.Seed };
        var output = new Option<string>("--out") { Description = "Output folder (model/, metrics.csv)", DefaultValueFactory = _ => defaults.OutputDir };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto", DefaultValueFactory = _ => defaults.Device };
        var threads = new Option<int?>("--threads") { Description = "libtorch threads [default: all cores]" }.AtLeast(1);
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the run already in --out (its model/, checkpoints/, events/, metrics.csv); without it a non-empty --out is refused" };
        var strategy = StrategyOption.Create();
        var precision = PrecisionOption.Create();
        var command = new Command("lm", "Train a small GPT from scratch on text (byte-level or GPT-2 BPE tokens); writes a Hugging Face model folder with a model card")
        {
            data, textColumn, model, tokenizer, maxSteps, dropout, batch, block, lr, validateEvery, limit, seed, output, device, threads, overwrite, strategy, precision,
        };
        command.SetAction(parse => StrategyOption.Run(parse.GetValue(strategy)!, chosen =>
        {
            var writer = chosen.IsGlobalZero ? parse.InvocationConfiguration.Output : TextWriter.Null;
            var result = LanguageModelTraining.Run(new LanguageModelTrainingOptions
            {
                Strategy = chosen,
                Data = parse.GetValue(data)!,
                TextColumn = parse.GetValue(textColumn)!,
                Model = parse.GetValue(model)!,
                Tokenizer = parse.GetValue(tokenizer)!,
                MaxSteps = parse.GetValue(maxSteps),
                Dropout = parse.GetValue(dropout),
                BatchSize = parse.GetValue(batch),
                BlockSize = parse.GetValue(block),
                LearningRate = parse.GetValue(lr),
                ValidateEvery = parse.GetValue(validateEvery),
                LimitChars = parse.GetValue(limit),
                Seed = parse.GetValue(seed),
                OutputDir = parse.GetValue(output)!,
                Overwrite = parse.GetValue(overwrite),
                Device = parse.GetValue(device)!,
                Threads = parse.GetValue(threads),
                Precision = parse.GetValue(precision)!,
                PlainProgress = true,
            }, writer);
            writer.WriteLine($"validation loss {result.ValidationLoss:0.000}, perplexity {result.ValidationPerplexity:0.00}, {result.Steps} steps in {result.TrainSeconds:0.0}s ({result.TokensPerSecond:0} tokens/s)");
            foreach (string sample in result.Samples) writer.WriteLine($"--- {sample}");
            writer.WriteLine(result.ModelDir);
            return 0;
        }));
        return command;
    }
}
