using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tessera.Data;
using Tessera.Formats;
using Tessera.Tasks;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Training;
using Tessera.Training.Callbacks;
using Tessera.Training.Loggers;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Recipes;

/// <summary>
/// A tiny GPT trained from scratch on a text corpus (by default the <c>fortunes</c> files): byte-level tokens or GPT-2's
/// BPE vocabulary, packed blocks, the <see cref="Trainer"/> with <see cref="CausalLMModule"/>, validation perplexity on every 20th entry held
/// out, and a Hugging Face model folder (config.json, model.safetensors, tokenizer.json, generation_config.json) with a
/// model card holding the loss curve and samples. What <c>tessera train lm</c> runs.
/// </summary>
public static class LanguageModelTraining
{
    /// <summary>The architectures <see cref="LanguageModelTrainingOptions.Model"/> accepts.</summary>
    public static IReadOnlyList<string> Models { get; } = ["gpt2-tiny", "gpt2-mini"];

    /// <summary>The vocabularies <see cref="LanguageModelTrainingOptions.Tokenizer"/> accepts.</summary>
    public static IReadOnlyList<string> Tokenizers { get; } = ["byte", "gpt2"];

    /// <summary>Trains as <paramref name="options"/> says and writes the model folder; returns the measurements.</summary>
    /// <exception cref="ArgumentException">An option is out of range, or the text is too short for one training and one validation block.</exception>
    /// <exception cref="FileNotFoundException">The data path does not exist.</exception>
    public static LanguageModelTrainingResult Run(LanguageModelTrainingOptions options, TextWriter? log = null)
    {
        log ??= Console.Out;
        if (options.MaxSteps < 1) throw new ArgumentException("--max-steps must be at least 1");
        if (options.BatchSize < 1 || options.BlockSize < 2) throw new ArgumentException("--batch-size must be at least 1 and --block-size at least 2");
        if (options.Dropout is not (>= 0 and < 1)) throw new ArgumentException($"--dropout must be at least 0 and below 1 (got {options.Dropout})");
        Vocabulary vocabulary = ChooseVocabulary(options.Tokenizer);
        Gpt2Config config = Architecture(options.Model, options.BlockSize, vocabulary) with { EmbdPdrop = options.Dropout, AttnPdrop = options.Dropout, ResidPdrop = options.Dropout };
        if (options.Threads is int t) set_num_threads(t);
        manual_seed(options.Seed);

        var strategy = options.Strategy ?? SingleProcessStrategy.Instance;
        bool writer = strategy.IsGlobalZero; // one process writes the output folder and reports for all
        if (!writer) log = TextWriter.Null;
        string outDir = writer ? RunOutput.Prepare(options.OutputDir, resume: false, options.Overwrite) : Path.GetFullPath(options.OutputDir);
        string modelDir = Path.Combine(outDir, "model");
        if (writer) vocabulary.WriteTokenizerFiles(modelDir, options.BlockSize);
        strategy.Group.Barrier(); // the tokenizer files are there for every process (or rank 0 failed and ended the group)
        HfTokenizer tokenizer = AutoTokenizer.FromPretrained(modelDir);
        var (trainIds, valIds) = Tokenize(IsHubStyle(options.Data) ? ReadRows(options, log) : ReadEntries(options.Data, options.LimitChars), tokenizer, vocabulary.EndOfTextId);
        using var train = new TokenBlockDataset(trainIds, options.BlockSize);
        using var val = new TokenBlockDataset(valIds, options.BlockSize);
        if (train.Count == 0 || val.Count == 0)
            throw new ArgumentException($"{options.Data}: too little text for one training and one validation block of {options.BlockSize} tokens");

        using var model = new Gpt2LMHeadModel(config);
        long parameters = model.parameters().Sum(p => p.numel());
        long warmup = Math.Min(100, Math.Max(1, options.MaxSteps / 10));
        using var module = new CausalLMModule(model, options.LearningRate, options.MaxSteps, warmup);
        var curve = new LossCurve();
        var progress = new ProgressDisplay(options.PlainProgress == true ? true : null, log == Console.Out ? null : log, unit: "tokens", unitsPerExample: options.BlockSize);
        using var csv = writer ? new CsvLogger(Path.Combine(outDir, "metrics.csv")) : null;
        var trainer = new Trainer(new TrainerOptions
        {
            MaxEpochs = null,
            MaxSteps = options.MaxSteps,
            GradientClipNorm = 1.0,
            ValCheckIntervalBatches = Math.Max(1, options.ValidateEvery),
            LimitValBatches = Math.Max(1, options.ValidationBatches),
            Seed = options.Seed,
            Device = options.Device,
            Precision = options.Precision,
            LogEveryNSteps = (int)Math.Clamp(options.MaxSteps / 40, 1, 50),
            Callbacks = writer ? [curve, new LearningRateMonitor(), progress, new ReleaseFreedMemory()] : [curve, new ReleaseFreedMemory()],
            Loggers = writer ? [csv!] : [],
            Strategy = strategy,
        });
        log.WriteLine($"training {options.Model} ({parameters / 1e6:0.00}M parameters, {options.Tokenizer} tokens) on {trainIds.Length} tokens ({valIds.Length} held out), " +
            $"{options.MaxSteps} steps of {options.BatchSize}x{options.BlockSize} tokens, device {trainer.Device.type}{(options.Precision != "32-true" ? ", " + options.Precision : "")}");
        var clock = Stopwatch.StartNew();
        trainer.Fit(module, new DataLoader<Batch>(train, new DataLoaderOptions { BatchSize = options.BatchSize, Shuffle = true, Seed = options.Seed }),
            new DataLoader<Batch>(val, new DataLoaderOptions { BatchSize = options.BatchSize }));
        clock.Stop();
        var points = curve.Points;
        double trainLoss = points.Count == 0 ? double.NaN : points.TakeLast(Math.Max(1, points.Count / 10)).Average(p => p.Loss);
        double valLoss = trainer.CallbackMetrics.GetValueOrDefault("val_loss", double.NaN);
        long batchTokens = (long)options.BatchSize * options.BlockSize * strategy.Group.WorldSize;
        if (!writer)
            return new LanguageModelTrainingResult
            {
                Model = options.Model, Parameters = parameters, Steps = trainer.GlobalStep, Tokens = (trainIds.Length, valIds.Length),
                TrainLoss = trainLoss, ValidationLoss = valLoss, LossCurve = points, Samples = [], TrainSeconds = clock.Elapsed.TotalSeconds,
                BatchTokens = batchTokens, ModelDir = modelDir,
            };

        model.to(CPU);
        model.eval();
        var generation = new GenerationConfig
        {
            DoSample = true, Temperature = 0.8, TopK = 40, MaxNewTokens = Math.Min(160, Math.Max(options.BlockSize / 2, options.BlockSize - 16)),
            Seed = options.Seed, BosTokenId = vocabulary.EndOfTextId, PadTokenId = vocabulary.EndOfTextId,
        }.WithEosTokenIds(vocabulary.EndOfTextId);
        // One seed per prompt, so the samples do not share their random draws.
        var samples = options.SamplePrompts.Select((p, i) => p + model.Generate(tokenizer, p, generation with { Seed = options.Seed + i }).Text).ToArray();

        var result = new LanguageModelTrainingResult
        {
            Model = options.Model,
            Parameters = parameters,
            Steps = trainer.GlobalStep,
            Tokens = (trainIds.Length, valIds.Length),
            TrainLoss = trainLoss,
            ValidationLoss = valLoss,
            LossCurve = points,
            Samples = samples,
            TrainSeconds = clock.Elapsed.TotalSeconds,
            BatchTokens = batchTokens,
            ModelDir = modelDir,
        };
        model.SavePretrained(modelDir);
        generation.Save(modelDir);
        AtomicFile.WriteAllText(Path.Combine(modelDir, "README.md"), Card(result, options, vocabulary));
        return result;
    }

    /// <summary>A vocabulary the recipe can train with: its size, its end-of-text id (also BOS), how to write its files and how the card describes it.</summary>
    sealed record Vocabulary(int Size, int EndOfTextId, Action<string, int> WriteTokenizerFiles, string Description, string LossUnit);

    static Vocabulary ChooseVocabulary(string name) => name switch
    {
        "byte" => new(ByteVocabulary.VocabSize, ByteVocabulary.EndOfTextId, (folder, context) => ByteVocabulary.WriteTokenizerFiles(folder, context),
            "byte-level tokens (one id per byte, `<|endoftext|>` between entries)", "bits per byte"),
        "gpt2" => new(Gpt2Vocabulary.VocabSize, Gpt2Vocabulary.EndOfTextId, Gpt2Vocabulary.WriteTokenizerFiles,
            "GPT-2's byte-level BPE vocabulary (50257 ids, `<|endoftext|>` = 50256 between entries)", "bits per token"),
        _ => throw new ArgumentException($"unknown tokenizer '{name}': expected {string.Join(" or ", Tokenizers)}"),
    };

    static Gpt2Config Architecture(string name, int blockSize, Vocabulary vocabulary)
    {
        var (layers, heads, width) = name switch
        {
            "gpt2-tiny" => (4, 4, 128),
            "gpt2-mini" => (6, 6, 192),
            _ => throw new ArgumentException($"unknown model '{name}': expected {string.Join(" or ", Models)}"),
        };
        return new Gpt2Config
        {
            VocabSize = vocabulary.Size, NPositions = blockSize, NEmbd = width, NLayer = layers, NHead = heads,
            BosTokenId = vocabulary.EndOfTextId, EosTokenId = JsonSerializer.SerializeToElement(vocabulary.EndOfTextId),
        };
    }

    /// <summary>A Hub-style dataset rather than text: hub:org/name, a .parquet or .jsonl(.gz) file, or a folder holding such files.</summary>
    static bool IsHubStyle(string data) =>
        data.StartsWith(Hub.Datasets.HubDataset.HubPrefix, StringComparison.Ordinal)
        || (File.Exists(data) && IsDataFile(data))
        || (Directory.Exists(data) && Directory.EnumerateFiles(data, "*", SearchOption.AllDirectories).Any(IsDataFile));

    static bool IsDataFile(string path) =>
        path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
        || path.EndsWith(".jsonl.gz", StringComparison.OrdinalIgnoreCase);

    /// <summary>The text column of the train split, streamed: with a character limit, only the row groups needed are read.</summary>
    static List<string> ReadRows(LanguageModelTrainingOptions options, TextWriter log)
    {
        var dataset = Hub.Datasets.HubDataset.LoadAsync(options.Data).GetAwaiter().GetResult();
        log.WriteLine($"data: {(dataset.Snapshot is { } s ? $"{s.Uri} at commit {s.Commit}" : dataset.Path)}, split train, column {options.TextColumn}");
        var entries = new List<string>();
        long chars = 0;
        foreach (var row in dataset["train"].ReadRows(new Hub.Datasets.DatasetColumn(options.TextColumn, Hub.Datasets.DatasetColumnType.String)))
        {
            if (row.GetString(options.TextColumn) is not { } text || text.Trim().Length == 0) continue;
            if (options.LimitChars is int limit && chars + text.Length > limit) break;
            entries.Add(text);
            chars += text.Length + 1;
        }
        return entries;
    }

    static List<string> ReadEntries(string path, int? limitChars)
    {
        IEnumerable<string> files = Directory.Exists(path)
            ? Directory.GetFiles(path).Where(f => Path.GetExtension(f) is not (".dat" or ".u8")).Order(StringComparer.Ordinal)
            : File.Exists(path) ? [path] : throw new FileNotFoundException($"{path}: no such file or folder", path);
        var entries = new List<string>();
        long chars = 0;
        foreach (string file in files)
            foreach (string entry in File.ReadAllText(file).Replace("\r\n", "\n").Split("\n%\n"))
            {
                string text = entry.Trim('%', '\n');
                if (text.Trim().Length == 0) continue;
                if (limitChars is int limit && chars + text.Length > limit) return entries;
                entries.Add(text);
                chars += text.Length + 1;
            }
        return entries;
    }

    /// <summary>Every entry followed by end-of-text; every 20th entry goes to validation.</summary>
    static (long[] Train, long[] Validation) Tokenize(List<string> entries, HfTokenizer tokenizer, int endOfTextId)
    {
        var encoded = new IReadOnlyList<int>[entries.Count];
        Parallel.For(0, entries.Count, i => encoded[i] = tokenizer.Encode(entries[i], addSpecialTokens: false).Ids);
        var train = new List<long>();
        var val = new List<long>();
        for (int i = 0; i < encoded.Length; i++)
        {
            var target = i % 20 == 10 ? val : train;
            foreach (int id in encoded[i]) target.Add(id);
            target.Add(endOfTextId);
        }
        return ([.. train], [.. val]);
    }

    static string Card(LanguageModelTrainingResult r, LanguageModelTrainingOptions o, Vocabulary vocabulary)
    {
        var inv = CultureInfo.InvariantCulture;
        string dataName = Path.GetFileName(Path.TrimEndingDirectorySeparator(o.Data));
        var front = new OrderedDictionary<string, object?>
        {
            ["library_name"] = "tessera",
            ["pipeline_tag"] = "text-generation",
            ["tags"] = new List<object?> { "text-generation", r.Model },
        };
        // The Hub's model-index: the held-out validation entries (every 20th), scored with the final weights.
        if (double.IsFinite(r.ValidationLoss))
            front["model-index"] = ModelIndex.Build($"{r.Model}-{dataName}",
                new ModelIndexResult("text-generation", "Text Generation", dataName, dataName,
                [
                    new ModelIndexMetric("loss", r.ValidationLoss, "Validation loss (nats/token)"),
                    new ModelIndexMetric("perplexity", r.ValidationPerplexity, "Validation perplexity"),
                ]) { Split = "validation" });
        var card = new StringBuilder(ModelIndex.RenderFrontMatter(front));
        card.AppendLine(inv, $"# {r.Model} trained on {dataName}");
        card.AppendLine();
        card.AppendLine(inv, $"A GPT-2-architecture language model ({r.Parameters / 1e6:0.00}M parameters, context {o.BlockSize}) trained from scratch with Tessera's Trainer on {vocabulary.Description}. Load it with `AutoModelForCausalLM.FromPretrained` or `transformers`; generate with `tessera generate <this folder> --prompt \"You will\" --stream`.");
        card.AppendLine();
        card.AppendLine("| | |");
        card.AppendLine("|---|---|");
        card.AppendLine(inv, $"| steps | {r.Steps} (batch {o.BatchSize} x {o.BlockSize} tokens) |");
        card.AppendLine(inv, $"| training tokens | {r.Tokens.Train} ({r.Tokens.Validation} held out: every 20th entry) |");
        card.AppendLine(inv, $"| final training loss | {r.TrainLoss:0.000} nats/token |");
        card.AppendLine(inv, $"| validation loss | {r.ValidationLoss:0.000} nats/token |");
        card.AppendLine(inv, $"| validation perplexity | {r.ValidationPerplexity:0.00} ({vocabulary.LossUnit} {r.ValidationLoss / Math.Log(2):0.000}) |");
        card.AppendLine(inv, $"| learning rate | {o.LearningRate} peak, AdamW, warmup then cosine |");
        card.AppendLine(inv, $"| dropout | {o.Dropout} (embeddings, attention, residuals) |");
        card.AppendLine(inv, $"| training time | {r.TrainSeconds:0.0} s ({r.TokensPerSecond:0} tokens/s, {o.Device}) |");
        card.AppendLine();
        card.AppendLine("## Loss curve");
        card.AppendLine();
        card.AppendLine("| step | training loss |");
        card.AppendLine("|---:|---:|");
        int every = Math.Max(1, r.LossCurve.Count / 12);
        for (int i = 0; i < r.LossCurve.Count; i++)
            if (i % every == 0 || i == r.LossCurve.Count - 1) card.AppendLine(inv, $"| {r.LossCurve[i].Step} | {r.LossCurve[i].Loss:0.000} |");
        card.AppendLine();
        card.AppendLine("## Samples");
        card.AppendLine();
        card.AppendLine("Temperature 0.8, top-k 40, seed " + o.Seed.ToString(inv) + ":");
        foreach (string sample in r.Samples)
        {
            card.AppendLine();
            card.AppendLine("```text");
            card.AppendLine(sample.Replace("```", "'''", StringComparison.Ordinal));
            card.AppendLine("```");
        }
        return card.ToString();
    }

    /// <summary>Records the training loss at the trainer's logging steps.</summary>
    sealed class LossCurve : Callback
    {
        public List<(long Step, double Loss)> Points { get; } = [];

        public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize)
        {
            if (trainer.IsLoggingStep) Points.Add((trainer.GlobalStep, loss));
        }
    }
}
