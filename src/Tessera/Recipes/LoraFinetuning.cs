using System.Globalization;
using System.Text;
using System.Text.Json;
using Tessera.Adapters;
using Tessera.Data;
using Tessera.Formats;
using Tessera.Tasks;
using Tessera.Text;
using Tessera.Training;
using Tessera.Training.Callbacks;
using Tessera.Training.Loggers;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Recipes;

/// <summary>
/// <c>tessera finetune</c>: LoRA fine-tuning of a causal LM folder on a JSONL text file with the <see cref="Trainer"/>
/// (loss on all tokens, entries packed into blocks with end-of-text between them); writes the adapter in PEFT's layout
/// and a model card naming the base model and the adapter config.
/// </summary>
public static class LoraFinetuning
{
    /// <summary>Runs the fine-tuning.</summary>
    /// <exception cref="ArgumentException">Invalid settings, or too little text for one block.</exception>
    /// <exception cref="TesseraFormatException">A JSONL line is not an object with the text field (the message names the line).</exception>
    /// <exception cref="FileNotFoundException">The data or model files are missing.</exception>
    public static LoraFinetuningResult Run(LoraFinetuningOptions options, TextWriter? log = null)
    {
        log ??= Console.Out;
        FinetuningSetup.ValidateAndSeed(options);
        bool writer = FinetuningSetup.Strategy(options).IsGlobalZero; // one process writes the output folder and reports for all
        if (!writer) log = TextWriter.Null;

        HfTokenizer tokenizer = AutoTokenizer.FromPretrained(options.ModelFolder);
        using CausalLanguageModel model = AutoModelForCausalLM.FromPretrained(options.ModelFolder);
        int blockSize = Math.Min(options.BlockSize, model.MaxPositions);
        IReadOnlyList<string> targets = options.TargetModules ?? (model is Gpt2LMHeadModel ? ["c_attn"] : ["q_proj", "v_proj"]);
        var config = new LoraConfig(options.R, options.Alpha, targets)
        {
            Dropout = options.Dropout,
            BaseModelNameOrPath = options.ModelFolder,
            TaskType = "CAUSAL_LM",
        };
        LoraModel peft = LoraModel.Wrap(model, config);

        List<JsonElement> lines = ReadJsonl(options.Data);
        int? eos = tokenizer.EosTokenId ?? model.PretrainedConfig.EosTokenIds.Cast<int?>().FirstOrDefault();
        bool completionOnly = lines.Count > 0 && lines[0].TryGetProperty(options.PromptField, out _) && lines[0].TryGetProperty(options.CompletionField, out _);
        var (trainSet, valSet) = completionOnly
            ? PromptCompletionSets(lines, options, tokenizer, eos, blockSize)
            : PackedSets(lines, options, tokenizer, eos, blockSize);
        using var trainDisposable = trainSet as IDisposable;
        using var valDisposable = valSet as IDisposable;
        if (trainSet.Count == 0) throw new ArgumentException($"{options.Data}: too little text for one training example of {blockSize} tokens");

        var (outDir, checkpoints, resumeFrom) = FinetuningSetup.PrepareOutput(options);
        using var module = new CausalLMModule(model, options.LearningRate, options.MaxSteps, FinetuningSetup.WarmupSteps(options), weightDecay: 0);
        using var csv = FinetuningSetup.Csv(options, outDir, resumeFrom is not null);
        var losses = new LastLosses();
        Trainer trainer = FinetuningSetup.CreateTrainer(options, checkpoints, csv, [losses], limitValBatches: 20);
        var (trainable, total) = peft.ParameterCounts();
        log.WriteLine($"fine-tuning {options.ModelFolder} with LoRA r={config.R} alpha={config.Alpha.ToString(CultureInfo.InvariantCulture)} on [{string.Join(", ", targets)}], " +
            $"{(completionOnly ? "loss on completions only" : "loss on all tokens")}: {peft.TrainableParametersSummary()}");
        trainer.Fit(module, new DataLoader<Batch>(trainSet, new DataLoaderOptions { BatchSize = options.BatchSize, Shuffle = true, Seed = options.Seed }),
            valSet.Count > 0 ? new DataLoader<Batch>(valSet, new DataLoaderOptions { BatchSize = options.BatchSize }) : null, resumeFrom);

        model.to(CPU);
        string adapterDir = Path.Combine(outDir, "adapter");
        if (writer) peft.SavePretrained(adapterDir);
        double valLoss = trainer.CallbackMetrics.TryGetValue("val_loss", out double v) ? v : double.NaN;
        var result = new LoraFinetuningResult
        {
            AdapterDir = adapterDir,
            TrainableParameters = trainable,
            TotalParameters = total,
            Steps = trainer.GlobalStep,
            TrainLoss = losses.Mean,
            ValidationLoss = valLoss,
        };
        // The stored config: wrapping Conv1D targets sets fan_in_fan_out, which the card must show as adapter_config.json does.
        if (writer) AtomicFile.WriteAllText(Path.Combine(outDir, "README.md"), Card(result, options, peft.Adapters["default"]));
        return result;
    }

    /// <summary>Every 20th line is held out for validation once there are at least 20.</summary>
    static bool HeldOut(int index, int count) => count >= 20 && index % 20 == 10;

    static (IDataset<Batch> Train, IDataset<Batch> Validation) PackedSets(List<JsonElement> lines, LoraFinetuningOptions o, HfTokenizer tokenizer, int? eos, int blockSize)
    {
        var train = new List<long>();
        var held = new List<long>();
        for (int i = 0; i < lines.Count; i++)
        {
            var target = HeldOut(i, lines.Count) ? held : train;
            foreach (int id in tokenizer.Encode(Field(lines[i], o.TextField, i, o.Data), addSpecialTokens: false).Ids) target.Add(id);
            if (eos is int e) target.Add(e);
        }
        return (new TokenBlockDataset(train.ToArray(), blockSize), new TokenBlockDataset(held.ToArray(), blockSize));
    }

    static (IDataset<Batch> Train, IDataset<Batch> Validation) PromptCompletionSets(List<JsonElement> lines, LoraFinetuningOptions o, HfTokenizer tokenizer, int? eos, int blockSize)
    {
        var train = new List<(IReadOnlyList<int>, IReadOnlyList<int>)>();
        var held = new List<(IReadOnlyList<int>, IReadOnlyList<int>)>();
        for (int i = 0; i < lines.Count; i++)
        {
            IReadOnlyList<int> prompt = tokenizer.Encode(Field(lines[i], o.PromptField, i, o.Data), addSpecialTokens: false).Ids;
            List<int> completion = [.. tokenizer.Encode(Field(lines[i], o.CompletionField, i, o.Data), addSpecialTokens: false).Ids];
            if (eos is int e) completion.Add(e);
            (HeldOut(i, lines.Count) ? held : train).Add((prompt, completion));
        }
        long pad = eos ?? 0;
        return (new PromptCompletionDataset(train, blockSize, pad), new PromptCompletionDataset(held, blockSize, pad));
    }

    static string Field(JsonElement line, string field, int index, string path) =>
        line.TryGetProperty(field, out JsonElement v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new TesseraFormatException(path, $"line {index + 1}: expected a string field \"{field}\"");

    /// <summary>The JSON objects of a JSONL file, one per non-blank line.</summary>
    /// <exception cref="TesseraFormatException">A line is not a JSON object (the message names the line).</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    static List<JsonElement> ReadJsonl(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        var lines = new List<JsonElement>();
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new TesseraFormatException(path, $"line {number}: expected a JSON object");
                lines.Add(doc.RootElement.Clone());
            }
            catch (JsonException e)
            {
                throw new TesseraFormatException(path, $"line {number}: invalid JSON: {e.Message}", e);
            }
        }
        return lines;
    }

    static string Card(LoraFinetuningResult r, LoraFinetuningOptions o, LoraConfig c)
    {
        var inv = CultureInfo.InvariantCulture;
        var card = new StringBuilder();
        var front = new OrderedDictionary<string, object?>
        {
            ["base_model"] = o.ModelFolder,
            ["library_name"] = "peft",
            ["tags"] = new List<object?> { "lora", "tessera" },
        };
        // The Hub's model-index: the held-out lines (every 20th), scored with the adapter's final weights.
        if (double.IsFinite(r.ValidationLoss))
        {
            string dataName = Path.GetFileName(Path.TrimEndingDirectorySeparator(o.Data));
            front["model-index"] = ModelIndex.Build($"{Path.GetFileName(Path.TrimEndingDirectorySeparator(o.ModelFolder))}-lora",
                new ModelIndexResult("text-generation", "Text Generation", dataName, dataName,
                [
                    new ModelIndexMetric("loss", r.ValidationLoss, "Validation loss (nats/token)"),
                    new ModelIndexMetric("perplexity", Math.Exp(r.ValidationLoss), "Validation perplexity"),
                ]) { Split = "validation" });
        }
        card.Append(ModelIndex.RenderFrontMatter(front)).AppendLine();
        card.AppendLine("# LoRA adapter").AppendLine();
        card.AppendLine(inv, $"A LoRA adapter for `{o.ModelFolder}`, fine-tuned with Tessera's Trainer on `{o.Data}` (loss on all tokens of field `{o.TextField}`, or on `{o.CompletionField}` only for prompt/completion lines) for {r.Steps} steps of {o.BatchSize}x{o.BlockSize} tokens at learning rate {o.LearningRate}.");
        card.AppendLine(inv, $"{FinetuningSetup.TrainableSentence(r)} Final training loss {r.TrainLoss:0.000}, validation loss {r.ValidationLoss:0.000}.").AppendLine();
        card.AppendLine("Files in `adapter/` follow PEFT's layout; load with `PeftModel.from_pretrained(base, \"adapter\")`, `LoraModel.FromPretrained(model, \"adapter\")`, or `tessera generate <base> --adapter adapter`; merge with `tessera merge <base> adapter --out merged`.").AppendLine();
        return FinetuningSetup.AppendAdapterConfig(card, c).ToString();
    }

    sealed class LastLosses : Callback
    {
        readonly Queue<double> last = new();

        public double Mean => last.Count == 0 ? double.NaN : last.Average();

        public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize)
        {
            last.Enqueue(loss);
            if (last.Count > 20) last.Dequeue();
        }
    }
}
