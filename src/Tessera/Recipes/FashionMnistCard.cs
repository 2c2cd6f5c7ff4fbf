using System.Globalization;
using System.Runtime.InteropServices;
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
        var card = new ModelCard { Title = $"{result.Model} trained on Fashion-MNIST with Tessera" };
        card.FrontMatter["library_name"] = "tessera";
        card.FrontMatter["pipeline_tag"] = "image-classification";
        card.FrontMatter["tags"] = new List<object> { "image-classification", "fashion-mnist", result.Model };
        card.FrontMatter["datasets"] = new List<object> { "fashion_mnist" };
        card.FrontMatter["metrics"] = new List<object> { "accuracy", "f1" };
        card.FrontMatter["accuracy"] = Math.Round(result.TestAccuracy, 4);

        card.Sections["Model description"] =
            $"A `{result.Model}` image classifier for 28x28 grayscale Fashion-MNIST images (10 classes), trained from scratch with " +
            "Tessera's `Trainer`. Weights are in `model.safetensors` with PyTorch parameter names and layouts; `config.json` " +
            "describes the architecture and `preprocessor_config.json` the input normalization.";
        card.Sections["Dataset"] =
            $"Fashion-MNIST (Debian package `dataset-fashion-mnist`): {trainCount} training images, {valCount} held out from the " +
            "end of the training set for validation, evaluated on the 10,000-image test set.";

        var metrics = new StringBuilder("| metric | value |\n|---|---|\n");
        metrics.Append(inv, $"| test accuracy | {result.TestAccuracy:0.0000} |\n");
        metrics.Append(inv, $"| test macro F1 | {result.MacroF1:0.0000} |\n");
        if (double.IsFinite(result.ValidationAccuracy)) metrics.Append(inv, $"| validation accuracy | {result.ValidationAccuracy:0.0000} |\n");
        metrics.Append(inv, $"| training time | {result.TrainSeconds:0.0} s |\n");
        metrics.Append(inv, $"| throughput (last epoch) | {result.ImagesPerSecond:0} images/s |\n");
        metrics.Append("\n| class | precision | recall | F1 |\n|---|---|---|---|\n");
        for (int i = 0; i < result.PerClass.PerClassF1.Count; i++)
            metrics.Append(inv, $"| {FashionMnist.Classes[i]} | {result.PerClass.PerClassPrecision[i]:0.0000} | {result.PerClass.PerClassRecall[i]:0.0000} | {result.PerClass.PerClassF1[i]:0.0000} |\n");
        card.Sections["Evaluation"] = metrics.ToString();

        var hp = new StringBuilder("| hyperparameter | value |\n|---|---|\n");
        hp.Append(inv, $"| epochs | {result.Epochs} |\n| batch size | {options.BatchSize} |\n| optimizer | {optimizer.Optimizer} |\n");
        hp.Append(inv, $"| learning rate | {optimizer.LearningRate} |\n| weight decay | {optimizer.WeightDecay} |\n| schedule | {optimizer.Schedule} |\n");
        hp.Append(inv, $"| augmentation | {(options.Augment == true ? "random crop (pad 2) + horizontal flip" : "none")} |\n| seed | {options.Seed} |\n| device | {options.Device} |\n");
        card.Sections["Training hyperparameters"] = hp.ToString();

        card.Sections["Training date and environment"] =
            $"- date: {DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", inv)}\n" +
            $"- Tessera {TesseraInfo.Version}, TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}, " +
            $".NET {Environment.Version}, {RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture}), {Environment.ProcessorCount} cores\n";
        return card;
    }
}
