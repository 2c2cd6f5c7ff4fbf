using System.Globalization;
using System.Text;
using Tessera.Data;
using Tessera.Formats;
using Tessera.Tasks;

namespace Tessera.Recipes;

/// <summary>Builds the model card of a Fashion-MNIST run.</summary>
internal static class FashionMnistCard
{
    public static ModelCard Build(FashionMnistTrainingResult result, FashionMnistTrainingOptions options,
        ImageClassifierOptions optimizer, int trainCount, int valCount)
    {
        var inv = CultureInfo.InvariantCulture;
        var card = new ModelCard
        {
            Title = $"{result.Model} trained on Fashion-MNIST with Tessera",
            Description =
                $"A `{result.Model}` image classifier for 28x28 grayscale Fashion-MNIST images (10 classes), trained from scratch with " +
                "Tessera's `Trainer`. Weights are in `model.safetensors` with PyTorch parameter names and layouts; `config.json` " +
                "describes the architecture and `preprocessor_config.json` the input normalization.",
            Dataset =
                $"Fashion-MNIST (Debian package `dataset-fashion-mnist`): {trainCount} training images; " +
                (valCount > 0 ? $"{valCount} held out from the end of the training set for validation; " : "no validation; ") +
                "evaluated on the 10,000-image test set with the last epoch's weights.",
            TrainingDate = DateTimeOffset.UtcNow,
        };
        card.FrontMatter["pipeline_tag"] = "image-classification";
        card.FrontMatter["tags"] = new List<object?> { "image-classification", "fashion-mnist", result.Model };
        card.FrontMatter["datasets"] = new List<object?> { "fashion_mnist" };
        card.FrontMatter["metrics"] = new List<object?> { "accuracy", "f1" };

        // The Hub's model-index: what the model was evaluated on and how well (test split, last epoch's weights).
        card.FrontMatter["model-index"] = ModelIndex.Build($"{result.Model}-fashion-mnist",
            new ModelIndexResult("image-classification", "Image Classification", "fashion_mnist", "Fashion-MNIST",
            [
                new ModelIndexMetric("accuracy", Math.Round(result.TestAccuracy, 4), "Test accuracy"),
                new ModelIndexMetric("f1", Math.Round(result.MacroF1, 4), "Test macro F1"),
            ]) { Split = "test" });
        card.Metrics["test_accuracy"] = Math.Round(result.TestAccuracy, 4);
        card.Metrics["test_macro_f1"] = Math.Round(result.MacroF1, 4);
        if (double.IsFinite(result.ValidationAccuracy)) card.Metrics["val_accuracy"] = Math.Round(result.ValidationAccuracy, 4);
        card.Metrics["train_seconds"] = Math.Round(result.TrainSeconds, 1);
        card.Metrics["images_per_second"] = Math.Round(result.ImagesPerSecond);

        card.SetHyperparameter("epochs", result.Epochs);
        card.SetHyperparameter("batch_size", options.BatchSize);
        card.SetHyperparameter("optimizer", optimizer.Optimizer);
        card.SetHyperparameter("learning_rate", optimizer.LearningRate);
        card.SetHyperparameter("weight_decay", optimizer.WeightDecay);
        card.SetHyperparameter("schedule", optimizer.Schedule);
        card.SetHyperparameter("augmentation", options.Augment == true ? "random crop (pad 2) + horizontal flip" : "none");
        card.SetHyperparameter("seed", options.Seed);
        card.SetHyperparameter("device", options.Device);

        var perClass = new StringBuilder("| class | precision | recall | F1 |\n|---|---|---|---|\n");
        var report = result.PerClass ?? throw new ArgumentException("the result has no test-set report", nameof(result));
        for (int i = 0; i < report.PerClassF1.Count; i++)
            perClass.Append(inv, $"| {FashionMnist.Classes[i]} | {report.PerClassPrecision[i]:0.0000} | {report.PerClassRecall[i]:0.0000} | {report.PerClassF1[i]:0.0000} |\n");
        card.Sections["Per-class results (test set)"] = perClass.ToString();
        card.CaptureLibraryVersions(typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString(3));
        return card;
    }
}
