using System.CommandLine;
using Tessera.Diffusion;
using Tessera.Diffusion.Pipelines;
using Tessera.Diffusion.Schedulers;
using Tessera.Hub;
using Tessera.Runtime.Diffusion;

namespace Tessera.Cli;

static class SampleCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("folder") { Description = "Diffusion pipeline folder (model_index.json + unet/ + scheduler/, or the flat layout), an ONNX pipeline folder from tessera export (runs in ONNX Runtime), or hub repository org/name[@revision]" };
        var classLabel = new Option<long?>("--class") { Description = "Class label of every image (class-conditional models; required for them)" };
        var num = new Option<int>("--num") { Description = "Number of images", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var steps = new Option<int>("--steps") { Description = "Denoising steps", DefaultValueFactory = _ => 50 }.AtLeast(1);
        var scheduler = new Option<string?>("--scheduler") { Description = "Swap the scheduler: ddpm, ddim, euler, euler-a or dpm++ [default: the folder's scheduler]" };
        var eta = new Option<double?>("--eta") { Description = "DDIM noise: 0 deterministic, 1 DDPM-like [default: 0; ddim only]" };
        var seed = new Option<long>("--seed") { Description = "Seed of image 0; image i uses seed + i, so it is the same whatever --num is", DefaultValueFactory = _ => 0 };
        var guidance = new Option<double>("--guidance-scale") { Description = "Classifier-free guidance scale, 1 = off (needs a class-conditional model trained with a null class, the last label)", DefaultValueFactory = _ => 1.0 };
        var output = new Option<string>("--out") { Description = "Folder for {index}.png and grid.png", DefaultValueFactory = _ => "samples" };
        var command = new Command("sample", "Generate images with a diffusion pipeline (UNet2DModel + scheduler); writes {index}.png and grid.png")
        {
            folder, classLabel, num, steps, scheduler, eta, seed, guidance, output,
        };
        command.SetAction(async (parse, cancel) =>
        {
            string? name = parse.GetValue(scheduler);
            if (name is not null && !Schedulers.ShortNames.Contains(name) && !Schedulers.ClassNames.Contains(name))
                throw new UsageException($"--scheduler: unknown scheduler \"{name}\" (one of: {string.Join(", ", Schedulers.ShortNames)})");
            if (parse.GetValue(eta) is { } e && !(double.IsFinite(e) && e >= 0))
                throw new UsageException($"--eta must be a finite number of at least 0 (got {e})");
            double g = parse.GetValue(guidance);
            if (!double.IsFinite(g)) throw new UsageException($"--guidance-scale must be a finite number (got {g})");

            string path;
            using (var hub = new HubClient(HubOptions.FromEnvironment()))
            {
                try
                {
                    path = await hub.GetModelFolderAsync(parse.GetValue(folder)!, cancellationToken: cancel);
                }
                catch (HubException ex)
                {
                    throw new HubException($"{parse.GetValue(folder)} is not a local folder, so it was looked up on the Hub as a repository id: {ex.Message}",
                        ex.RepoId, ex.Revision, ex.Filename, ex.StatusCode, ex);
                }
            }
            var options = new SamplingOptions
            {
                NumImages = parse.GetValue(num),
                NumInferenceSteps = parse.GetValue(steps),
                Seed = parse.GetValue(seed),
                ClassLabel = parse.GetValue(classLabel),
                GuidanceScale = g,
            };
            var console = parse.InvocationConfiguration.Output;
            PipelineFolder layout = PipelineFolder.Open(path);
            DiffusionOutput images;
            if (layout.IsOnnx)
            {
                using var pipe = OrtDiffusionPipeline.FromPretrained(path);
                pipe.Scheduler = Configure(pipe.Scheduler, name, parse.GetValue(eta));
                console.WriteLine($"sampling {options.NumImages} image(s), {options.NumInferenceSteps} steps of {pipe.Scheduler.Config.ClassName}, UNet in ONNX Runtime");
                images = pipe.Generate(options);
            }
            else
            {
                using var pipe = DiffusionPipeline.FromPretrained(path);
                pipe.Scheduler = Configure(pipe.Scheduler, name, parse.GetValue(eta));
                console.WriteLine($"sampling {options.NumImages} image(s), {options.NumInferenceSteps} steps of {pipe.Scheduler.Config.ClassName}, UNet in TorchSharp");
                images = pipe.Generate(options);
            }
            string outDir = parse.GetValue(output)!;
            images.SavePngs(outDir);
            string grid = Path.Combine(outDir, "grid.png");
            images.SaveGrid(grid);
            console.WriteLine($"wrote {images.Count} image(s) ({images.Width}x{images.Height}) to {Path.Combine(outDir, "{index}.png")} and the grid to {grid}");
            return 0;
        });
        return command;
    }

    static IDiffusionScheduler Configure(IDiffusionScheduler current, string? name, double? eta)
    {
        IDiffusionScheduler scheduler = name is null ? current : Schedulers.Create(name, current.Config);
        if (eta is { } e)
        {
            if (scheduler is not DdimScheduler ddim)
                throw new UsageException($"--eta applies to the DDIM scheduler only (this one is {scheduler.Config.ClassName}; add --scheduler ddim)");
            ddim.Eta = e;
        }
        return scheduler;
    }
}
