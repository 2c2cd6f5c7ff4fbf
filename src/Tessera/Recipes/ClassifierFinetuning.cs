using System.Globalization;
using System.Text;
using Tessera.Adapters;
using Tessera.Data;
using Tessera.Formats;
using Tessera.Hub;
using Tessera.Hub.Datasets;
using Tessera.Tasks;
using Tessera.Text;
using Tessera.Training;
using Tessera.Training.Callbacks;
using Tessera.Training.Loggers;
using Tessera.Models;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Recipes;

/// <summary>
/// <c>tessera finetune --task classify</c>: fine-tunes a BERT folder as a sequence classifier on CSV or JSONL
/// text+label data with the <see cref="Trainer"/>: LoRA adapters on the encoder with the <c>classifier</c> head in
/// <c>modules_to_save</c> (saved in PEFT's layout with task_type SEQ_CLS), or every weight with
/// <see cref="LoraFinetuningOptions.Full"/>. Labels found in the data become the config's id2label/label2id.
/// </summary>
public static class ClassifierFinetuning
{
    /// <summary>The head trained fully next to the adapters.</summary>
    public const string HeadName = "classifier";

    /// <summary>Runs the fine-tuning.</summary>
    /// <exception cref="ArgumentException">Invalid settings, or no training examples.</exception>
    /// <exception cref="TesseraFormatException">The data is malformed or lacks a column (the message names the file and the available columns).</exception>
    /// <exception cref="FileNotFoundException">The data or model files are missing.</exception>
    public static LoraFinetuningResult Run(LoraFinetuningOptions options, TextWriter? log = null)
    {
        log ??= Console.Out;
        FinetuningSetup.ValidateAndSeed(options);
        bool writer = FinetuningSetup.Strategy(options).IsGlobalZero; // one process writes the output folder and reports for all
        if (!writer) log = TextWriter.Null;

        List<LabeledText> all;
        List<LabeledText>? heldSplit = null;
        HubSnapshot? snapshot = null;
        string heldSplitName = "validation";
        if (HubDataset.TryParseReference(options.Data, out _) || Directory.Exists(options.Data))
        {
            // A Hub-style dataset: its train split, and its validation (else test) split as held-out data.
            HubDataset dataset = HubDataset.LoadAsync(options.Data).GetAwaiter().GetResult();
            snapshot = dataset.Snapshot;
            all = TextClassificationDataset.Read(dataset["train"], options.TextColumn, options.LabelColumn);
            if (options.ValData is null && (dataset.TryGetSplit("validation", out var split) || dataset.TryGetSplit("test", out split)))
            {
                heldSplit = TextClassificationDataset.Read(split, options.TextColumn, options.LabelColumn);
                heldSplitName = split.Name;
            }
            log.WriteLine($"data: {(snapshot is null ? dataset.Path : $"{snapshot.Uri} at commit {snapshot.Commit}")}, splits {string.Join(", ", dataset.Splits.Select(s => s.Name))}");
        }
        else
        {
            all = TextClassificationDataset.Read(options.Data, options.TextColumn, options.LabelColumn);
        }
        List<LabeledText> train, held;
        if (options.ValData is { } valPath)
        {
            train = all;
            held = TextClassificationDataset.Read(valPath, options.TextColumn, options.LabelColumn);
        }
        else if (heldSplit is not null)
        {
            train = all;
            held = heldSplit;
        }
        else
        {
            bool split = all.Count >= 20;
            train = [.. all.Where((_, i) => !split || i % 10 != 5)];
            held = [.. all.Where((_, i) => split && i % 10 == 5)];
        }
        if (train.Count == 0) throw new ArgumentException($"{options.Data}: no training examples");
        IReadOnlyList<string> labels = TextClassificationDataset.LabelsOf(train.Concat(held));

        var baseConfig = PretrainedConfig.Load(options.ModelFolder) as BertConfig
            ?? throw new TesseraFormatException(Path.Combine(options.ModelFolder, "config.json"), "--task classify needs a BERT model folder (model_type \"bert\")");
        BertConfig config = baseConfig.WithLabels(labels);
        bool sameHead = baseConfig.Id2Label is { } old && old.Count == labels.Count;
        using var model = (BertForSequenceClassification)PretrainedModels.FromPretrained(ModelTasks.SequenceClassification, options.ModelFolder, config,
            new FromPretrainedOptions { AllowMissingKeys = true });
        HfTokenizer tokenizer = AutoTokenizer.FromPretrained(options.ModelFolder);
        int maxLength = Math.Min(options.BlockSize, config.MaxPositionEmbeddings);

        LoraConfig? lora = null;
        LoraModel? peft = null;
        if (!options.Full)
        {
            lora = new LoraConfig(options.R, options.Alpha, options.TargetModules ?? ["query", "value"])
            {
                Dropout = options.Dropout,
                ModulesToSave = [HeadName],
                BaseModelNameOrPath = options.ModelFolder,
                TaskType = "SEQ_CLS",
            };
            peft = LoraModel.Wrap(model, lora);
        }
        long trainable = model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
        long total = model.parameters().Sum(p => p.numel());

        var trainSet = new TextClassificationDataset(train, labels, tokenizer, maxLength);
        var valSet = new TextClassificationDataset(held, labels, tokenizer, maxLength);
        var (outDir, checkpoints, resumeFrom) = FinetuningSetup.PrepareOutput(options);
        using var module = new SequenceClassificationModule(model, options.LearningRate, options.MaxSteps, FinetuningSetup.WarmupSteps(options));
        using var csv = FinetuningSetup.Csv(options, outDir, resumeFrom is not null);
        Trainer trainer = FinetuningSetup.CreateTrainer(options, checkpoints, csv, []);
        log.WriteLine($"fine-tuning {options.ModelFolder} as a {labels.Count}-label classifier ({string.Join(", ", labels)}) on {train.Count} examples, validating on {held.Count}" +
            (peft is null ? $", all weights: trainable params: {trainable:N0} || all params: {total:N0}" : $", LoRA r={lora!.R} alpha={lora.Alpha.ToString(CultureInfo.InvariantCulture)} on [{string.Join(", ", lora.TargetModules!)}] + {HeadName}: {peft.TrainableParametersSummary()}") +
            (sameHead ? "" : $" (new {HeadName} head)"));
        trainer.Fit(module, new DataLoader<ClassificationBatch>(trainSet, new DataLoaderOptions { BatchSize = options.BatchSize, Shuffle = true, Seed = options.Seed }),
            valSet.Count > 0 ? new DataLoader<ClassificationBatch>(valSet, new DataLoaderOptions { BatchSize = options.BatchSize }) : null, resumeFrom);

        model.to(CPU);
        model.eval();
        string saved;
        if (!writer) saved = Path.Combine(outDir, peft is null ? "model" : "adapter");
        else if (peft is not null)
        {
            saved = Path.Combine(outDir, "adapter");
            peft.SavePretrained(saved);
            config.Save(Path.Combine(saved, "config.json"));
        }
        else
        {
            saved = Path.Combine(outDir, "model");
            model.SavePretrained(saved);
            foreach (string file in Directory.EnumerateFiles(options.ModelFolder))
            {
                string name = Path.GetFileName(file);
                if (name.StartsWith("tokenizer", StringComparison.Ordinal) || name is "vocab.txt" or "special_tokens_map.json" or "merges.txt" or "vocab.json")
                    File.Copy(file, Path.Combine(saved, name), overwrite: true);
            }
        }
        var result = new LoraFinetuningResult
        {
            AdapterDir = saved,
            TrainableParameters = trainable,
            TotalParameters = total,
            Steps = trainer.GlobalStep,
            TrainLoss = trainer.CallbackMetrics.TryGetValue("train_loss", out double tl) ? tl : double.NaN,
            ValidationLoss = trainer.CallbackMetrics.TryGetValue("val_loss", out double vl) ? vl : double.NaN,
            ValidationAccuracy = trainer.CallbackMetrics.TryGetValue("val_acc", out double va) ? va : double.NaN,
        };
        if (writer) AtomicFile.WriteAllText(Path.Combine(outDir, "README.md"), Card(result, options, peft?.Adapters["default"] ?? lora, labels, snapshot, heldSplitName));
        return result;
    }

    /// <summary>
    /// Loads a classifier fine-tuned with LoRA: the base folder's encoder with the labels of <c>config.json</c> in
    /// <paramref name="adapterFolder"/> (when present), and the adapter (with its saved head) on top.
    /// </summary>
    /// <exception cref="TesseraFormatException">The base is not BERT, or the adapter does not fit it.</exception>
    /// <exception cref="FileNotFoundException">Files are missing.</exception>
    public static (BertForSequenceClassification Model, LoraModel Adapter) LoadWithAdapter(string baseFolder, string adapterFolder)
    {
        string labelled = Path.Combine(adapterFolder, "config.json");
        var config = PretrainedConfig.Load(File.Exists(labelled) ? labelled : baseFolder) as BertConfig
            ?? throw new TesseraFormatException(Path.Combine(baseFolder, "config.json"), "expected a BERT config (model_type \"bert\")");
        var model = (BertForSequenceClassification)PretrainedModels.FromPretrained(ModelTasks.SequenceClassification, baseFolder, config, new FromPretrainedOptions { AllowMissingKeys = true });
        try
        {
            LoraModel peft = LoraModel.FromPretrained(model, adapterFolder);
            model.eval();
            return (model, peft);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    static string Card(LoraFinetuningResult r, LoraFinetuningOptions o, LoraConfig? c, IReadOnlyList<string> labels, HubSnapshot? data, string heldSplit)
    {
        var inv = CultureInfo.InvariantCulture;
        var front = new OrderedDictionary<string, object?> { ["base_model"] = o.ModelFolder };
        if (c is not null) front["library_name"] = "peft";
        front["pipeline_tag"] = "text-classification";
        front["tags"] = c is null ? new List<object?> { "tessera", "text-classification" } : new List<object?> { "tessera", "text-classification", "lora" };
        // The Hub's model-index: the held-out data (--val-data, the dataset's validation or test split, or every 10th row).
        if (double.IsFinite(r.ValidationAccuracy))
        {
            string dataName = data?.RepoId ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(o.ValData ?? o.Data));
            front["model-index"] = ModelIndex.Build($"{Path.GetFileName(Path.TrimEndingDirectorySeparator(o.ModelFolder))}-{(c is null ? "finetuned" : "lora")}",
                new ModelIndexResult("text-classification", "Text Classification", dataName, dataName,
                [
                    new ModelIndexMetric("accuracy", r.ValidationAccuracy, "Validation accuracy"),
                    .. (double.IsFinite(r.ValidationLoss) ? new[] { new ModelIndexMetric("loss", r.ValidationLoss, "Validation loss") } : []),
                ]) { Split = heldSplit, Revision = o.ValData is null ? data?.Commit : null });
        }
        var card = new StringBuilder(ModelIndex.RenderFrontMatter(front)).AppendLine();
        card.AppendLine(c is null ? "# Fine-tuned classifier" : "# LoRA classification adapter").AppendLine();
        card.AppendLine(inv, $"{(c is null ? "All weights of" : "A LoRA adapter (with a fully trained `classifier` head) for")} `{o.ModelFolder}`, fine-tuned with Tessera's Trainer on `{o.Data}` (text column `{o.TextColumn}`, label column `{o.LabelColumn}`) for {r.Steps} steps of batch {o.BatchSize} (at most {o.BlockSize} tokens) at learning rate {o.LearningRate}.");
        card.AppendLine(inv, $"Labels (id: name): {string.Join(", ", labels.Select((l, i) => $"{i}: {l}"))}.");
        if (data is not null) card.AppendLine(inv, $"Data: `{data.Uri}` at commit `{data.Commit}`.");
        card.AppendLine(inv, $"{FinetuningSetup.TrainableSentence(r)} Final training loss {r.TrainLoss:0.000}, validation loss {r.ValidationLoss:0.000}, validation accuracy {r.ValidationAccuracy:0.000}.").AppendLine();
        if (c is not null)
        {
            card.AppendLine("Files in `adapter/` follow PEFT's layout (`config.json` there carries the id2label/label2id); load with `PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(base, num_labels=...), \"adapter\")` or `ClassifierFinetuning.LoadWithAdapter(base, \"adapter\")`.").AppendLine();
            FinetuningSetup.AppendAdapterConfig(card, c);
        }
        else
        {
            card.AppendLine("`model/` is a complete model folder (config.json with the labels, safetensors, tokenizer files).");
        }
        return card.ToString();
    }
}
