using System.CommandLine;
using System.Globalization;
using Tessera.Data;
using Tessera.Diffusion;
using Tessera.Diffusion.Pipelines;
using Tessera.Recipes;
using Tessera.Runtime.Diffusion;

namespace Tessera.Cli;

/// <summary><c>tessera eval</c> on a diffusion pipeline folder: the options and the run.</summary>
static class DiffusionEvalCommand
{
    public static readonly Option<string?> Classifier = new("--classifier") { Description = "Diffusion pipelines: a Fashion-MNIST classifier folder (tessera train fashion-mnist) that judges the samples" };
    public static readonly Option<int> SamplesPerClass = new Option<int>("--samples-per-class") { Description = "Diffusion pipelines: generated images per class", DefaultValueFactory = _ => 100 }.AtLeast(2);
    public static readonly Option<int> Steps = new Option<int>("--steps") { Description = "Diffusion pipelines: denoising steps", DefaultValueFactory = _ => 50 }.AtLeast(1);
    public static readonly Option<string> Scheduler = new("--scheduler") { Description = "Diffusion pipelines: scheduler (ddim, ddpm, dpm++, euler, ...)", DefaultValueFactory = _ => "ddim" };
    public static readonly Option<string?> ClipSample = new Option<string?>("--clip-sample") { Description = "Diffusion pipelines: override the scheduler's clip_sample (true or false; DDPM and DDIM clip the predicted x0 to [-1, 1]) [default: the folder's]", HelpName = "true|false" }.AcceptOnlyFromAmong("true", "false");
    public static readonly Option<double> Eta = new Option<double>("--eta") { Description = "Diffusion pipelines: DDIM's eta (0 deterministic, 1 DDPM-like noise); other schedulers ignore it", DefaultValueFactory = _ => 0.0 }.UnitInterval();
    public static readonly Option<double> Guidance = new Option<double>("--guidance-scale") { Description = "Diffusion pipelines: classifier-free guidance scale", DefaultValueFactory = _ => 2.0 }.PositiveFinite();
    public static readonly Option<long> Seed = new("--seed") { Description = "Diffusion pipelines: seed of the first image", DefaultValueFactory = _ => 0 };
    public static readonly Option<int> RealImages = new Option<int>("--real-images") { Description = "Diffusion pipelines: real test images for the Fréchet distance, and training images of the full-size floor", DefaultValueFactory = _ => 10000 }.AtLeast(2);

    public static IEnumerable<Option> All => [Classifier, SamplesPerClass, Steps, Scheduler, ClipSample, Eta, Guidance, Seed, RealImages];

    public static int Run(ParseResult parse, string folder, string? dataDir)
    {
        string classifier = parse.GetValue(Classifier)
            ?? throw new UsageException($"{folder} is a diffusion pipeline: pass --classifier DIR (a model folder from `tessera train fashion-mnist`) to judge its samples");
        var writer = parse.InvocationConfiguration.Output;
        var options = new DiffusionEvaluationOptions
        {
            SamplesPerClass = parse.GetValue(SamplesPerClass), Steps = parse.GetValue(Steps), Scheduler = parse.GetValue(Scheduler), ClipSample = parse.GetValue(ClipSample) is { } clip ? clip == "true" : null, Eta = parse.GetValue(Eta),
            GuidanceScale = parse.GetValue(Guidance), Seed = parse.GetValue(Seed), RealImages = parse.GetValue(RealImages), DataDir = dataDir,
        };
        // An exported pipeline (tessera export: unet/model.onnx, no safetensors) samples in ONNX Runtime, as `tessera sample` does.
        var layout = PipelineFolder.Open(folder);
        DiffusionQuality quality;
        if (layout.IsOnnx)
        {
            using var onnx = OrtDiffusionPipeline.FromPretrained(folder);
            quality = DiffusionEvaluation.Evaluate(onnx, classifier, options, writer);
        }
        else
        {
            using var pipeline = DiffusionPipeline.FromPretrained(folder);
            quality = DiffusionEvaluation.Evaluate(pipeline, classifier, options, writer);
        }
        Print(quality, writer);
        return 0;
    }

    public static void Print(DiffusionQuality q, TextWriter writer)
    {
        var inv = CultureInfo.InvariantCulture;
        writer.WriteLine($"sampling: {q.Sampling}; {q.GeneratedImages} generated, {q.RealImages} real test images; features: {q.FeatureLayer} ({q.FeatureDim})");
        writer.WriteLine(string.Create(inv, $"class_agreement: {q.MeanClassAgreement:0.0000}"));
        writer.WriteLine(string.Create(inv, $"frechet_distance: {q.FrechetDistance:0.0000}  ({q.GeneratedImages} generated vs {q.RealImages} real test)"));
        writer.WriteLine(string.Create(inv, $"frechet_floor_at_generated_count: {q.FrechetFloorAtGeneratedCount:0.0000}  ({q.GeneratedImages} real train, class-balanced, vs {q.RealImages} real test: the floor to compare frechet_distance with)"));
        writer.WriteLine(string.Create(inv, $"frechet_floor_train_vs_test: {q.FrechetFloor:0.0000}  ({q.RealImages} real train vs {q.RealImages} real test)"));
        for (int k = 0; k < q.ClassAgreement.Count; k++)
            writer.WriteLine(string.Create(inv, $"  {(k < FashionMnist.Classes.Length ? FashionMnist.Classes[k] : k.ToString(inv)),-12} {q.ClassAgreement[k]:0.00}"));
    }
}
