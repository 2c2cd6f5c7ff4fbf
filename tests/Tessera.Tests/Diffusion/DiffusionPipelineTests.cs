using SkiaSharp;
using Tessera.Diffusion;
using Tessera.Diffusion.Pipelines;
using Tessera.Diffusion.Schedulers;
using Tessera.Export;
using Tessera.Formats;
using Tessera.Runtime.Diffusion;
using Tessera.Tests.Export;
using Tessera.Tests.Shared;
using static TorchSharp.torch;

namespace Tessera.Tests.Diffusion;

public class DiffusionPipelineTests
{
    static DiffusionPipeline NewPipeline(UNet2DConfig? config = null, string scheduler = "ddpm")
    {
        manual_seed(11);
        var unet = new UNet2DModel(config ?? UNetTestConfigs.ClassConditional());
        UNetTestConfigs.RandomizeNorms(unet);
        unet.eval();
        var sc = Schedulers.Create(scheduler, SchedulerConfig.ForClass("DDPMScheduler"));
        return new DiffusionPipeline(unet, sc);
    }

    [Fact]
    public void Seeded_generation_is_reproducible_and_seeds_differ()
    {
        using var pipe = NewPipeline();
        var options = new SamplingOptions { NumImages = 2, NumInferenceSteps = 4, Seed = 5, ClassLabel = 3 };
        DiffusionOutput a = pipe.Generate(options), b = pipe.Generate(options), c = pipe.Generate(options with { Seed = 6 });
        Assert.Equal(a.Samples, b.Samples);
        Assert.True(UNetTestConfigs.MaxAbs(a.Samples, c.Samples) > 1e-2);
        Assert.Equal((2, 3, 8, 8), (a.Count, a.Channels, a.Height, a.Width));
        Assert.DoesNotContain(a.Samples, float.IsNaN);
    }

    /// <summary>DDPM adds fresh noise every step; with one noise source per image, image i does not depend on its batch.</summary>
    [Fact]
    public void Batch_of_four_equals_four_single_runs()
    {
        using var pipe = NewPipeline();
        long[] labels = [0, 4, 2, 2];
        DiffusionOutput batch = pipe.Generate(new SamplingOptions { NumImages = 4, NumInferenceSteps = 4, Seed = 100, ClassLabels = labels });
        for (int i = 0; i < 4; i++)
        {
            DiffusionOutput single = pipe.Generate(new SamplingOptions { NumImages = 1, NumInferenceSteps = 4, Seed = 100 + i, ClassLabel = labels[i] });
            double diff = UNetTestConfigs.MaxAbs(batch.Image(i), single.Image(0));
            Assert.True(diff <= 1e-5, $"image {i}: batch vs alone differ by {diff:g3}");
        }
        DiffusionOutput chunked = pipe.Generate(new SamplingOptions { NumImages = 4, NumInferenceSteps = 4, Seed = 100, ClassLabels = labels, BatchSize = 3 });
        Assert.True(UNetTestConfigs.MaxAbs(batch.Samples, chunked.Samples) <= 1e-5);
    }

    [Fact]
    public void Save_and_load_keeps_outputs_in_diffusers_and_flat_layouts_and_the_scheduler_swaps()
    {
        using var dir = new TempDirectory("tessera-pipe-");
        using var pipe = NewPipeline(scheduler: "ddim");
        var options = new SamplingOptions { NumImages = 2, NumInferenceSteps = 3, Seed = 1, ClassLabel = 1 };
        DiffusionOutput before = pipe.Generate(options);
        string folder = Path.Combine(dir.Path, "pipe");
        pipe.SavePretrained(folder);
        Assert.True(File.Exists(Path.Combine(folder, "model_index.json")));
        Assert.Contains("\"DDIMScheduler\"", File.ReadAllText(Path.Combine(folder, "model_index.json")));
        Assert.True(File.Exists(Path.Combine(folder, "unet", UNet2DModel.WeightsFile)));
        using (var loaded = DiffusionPipeline.FromPretrained(folder))
        {
            Assert.IsType<DdimScheduler>(loaded.Scheduler);
            Assert.Equal(before.Samples, loaded.Generate(options).Samples);
            loaded.Scheduler = Schedulers.Create("ddpm", loaded.Scheduler.Config);
            Assert.True(UNetTestConfigs.MaxAbs(before.Samples, loaded.Generate(options).Samples) > 1e-3);
        }

        string flat = Path.Combine(dir.Path, "flat");
        pipe.UNet.SavePretrained(flat);
        Schedulers.Save(pipe.Scheduler, flat);
        using var flatPipe = DiffusionPipeline.FromPretrained(flat);
        Assert.Equal(before.Samples, flatPipe.Generate(options).Samples);
    }

    [Fact]
    public void Png_files_and_grid_decode_to_the_output_pixels()
    {
        using var dir = new TempDirectory("tessera-pipe-");
        using var pipe = NewPipeline();
        DiffusionOutput output = pipe.Generate(new SamplingOptions { NumImages = 3, NumInferenceSteps = 2, Seed = 9, ClassLabel = 0 });
        var paths = output.SavePngs(dir.Path);
        Assert.Equal(["0.png", "1.png", "2.png"], paths.Select(Path.GetFileName));
        using (var bitmap = SKBitmap.Decode(paths[1]))
        {
            Assert.Equal((8, 8), (bitmap.Width, bitmap.Height));
            byte[] pixels = output.Pixels(1);
            SKColor p = bitmap.GetPixel(5, 3);
            int at = (3 * 8 + 5) * 3;
            Assert.Equal((pixels[at], pixels[at + 1], pixels[at + 2]), (p.Red, p.Green, p.Blue));
        }
        string grid = Path.Combine(dir.Path, "grid.png");
        output.SaveGrid(grid);
        using var g = SKBitmap.Decode(grid);
        Assert.Equal((2 * 8 + 3 * 2, 2 * 8 + 3 * 2), (g.Width, g.Height));
        SKColor q = g.GetPixel(2 + 8 + 2 + 4, 2 + 6); // image 1, pixel (4, 6)
        byte[] image1 = output.Pixels(1);
        Assert.Equal(image1[(6 * 8 + 4) * 3], q.Red);
    }

    [Fact]
    public void Guidance_progress_and_bad_options()
    {
        using var pipe = NewPipeline();
        int calls = 0, last = 0;
        var options = new SamplingOptions { NumImages = 1, NumInferenceSteps = 3, Seed = 2, ClassLabel = 1, Progress = (done, total) => { calls++; last = done; Assert.Equal(3, total); } };
        DiffusionOutput plain = pipe.Generate(options);
        Assert.Equal((3, 3), (calls, last));
        DiffusionOutput guided = pipe.Generate(options with { GuidanceScale = 3.0, Progress = null });
        Assert.True(UNetTestConfigs.MaxAbs(plain.Samples, guided.Samples) > 1e-3);

        Assert.Contains("outside [0, 5)", Assert.Throws<ArgumentException>(() => pipe.Generate(options with { ClassLabel = 5 })).Message);
        Assert.Contains("class-conditional", Assert.Throws<ArgumentException>(() => pipe.Generate(options with { ClassLabel = null })).Message);
        Assert.Contains("at least 1", Assert.Throws<ArgumentException>(() => pipe.Generate(options with { NumInferenceSteps = 0 })).Message);
        using var unconditional = NewPipeline(UNetTestConfigs.Unconditional());
        Assert.Contains("unconditional", Assert.Throws<ArgumentException>(() => unconditional.Generate(options)).Message);
        Assert.Contains("guidance", Assert.Throws<ArgumentException>(() => unconditional.Generate(options with { ClassLabel = null, GuidanceScale = 2 })).Message);
    }

    /// <summary>Classifier-free guidance combines the two predictions as uncond + g (cond - uncond): with one DDIM step from the same noise, the result is linear in g.</summary>
    [Fact]
    public void Guidance_is_linear_in_the_scale_for_one_deterministic_step()
    {
        using var pipe = NewPipeline(scheduler: "ddim");
        var o = new SamplingOptions { NumImages = 1, NumInferenceSteps = 1, Seed = 4, ClassLabel = 2 };
        float[] g1 = pipe.Generate(o).Samples, g2 = pipe.Generate(o with { GuidanceScale = 2 }).Samples, g3 = pipe.Generate(o with { GuidanceScale = 3 }).Samples;
        float[] extrapolated = g1.Select((v, i) => 2 * g2[i] - v).ToArray();
        Assert.True(UNetTestConfigs.MaxAbs(extrapolated, g3) <= 1e-3);
    }

    [Fact]
    public void Hostile_pipeline_folders_give_one_clear_error()
    {
        using var dir = new TempDirectory("tessera-pipe-");
        var notPipeline = Assert.Throws<TesseraFormatException>(() => DiffusionPipeline.FromPretrained(dir.Path));
        Assert.Contains("not a diffusion pipeline folder", notPipeline.Message);

        PipelineFolder.WriteIndex(dir.Path, "DDPMPipeline", "DDPMScheduler");
        Directory.CreateDirectory(Path.Combine(dir.Path, "unet"));
        var noConfig = Assert.Throws<TesseraFormatException>(() => DiffusionPipeline.FromPretrained(dir.Path));
        Assert.Contains(Path.Combine("unet", "config.json"), noConfig.Message);

        File.WriteAllText(Path.Combine(dir.Path, "model_index.json"), "{\"_class_name\": \"DDPMPipeline\", \"unet\": \"UNet2DModel\"}");
        var badIndex = Assert.Throws<TesseraFormatException>(() => DiffusionPipeline.FromPretrained(dir.Path));
        Assert.Contains("model_index.json", badIndex.Message);
        Assert.Contains("\"unet\"", badIndex.Message);
    }

    /// <summary>The exported ONNX pipeline folder runs in ONNX Runtime with the same schedulers and loop; DDIM (deterministic) and DDPM (noise each step) both agree with TorchSharp within 1e-3.</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void Onnx_pipeline_matches_torchsharp_pipeline()
    {
        using var dir = new TempDirectory("tessera-pipe-");
        using var pipe = NewPipeline(scheduler: "ddim");
        string folder = Path.Combine(dir.Path, "pipe"), onnx = Path.Combine(dir.Path, "onnx");
        pipe.SavePretrained(folder);
        ModelExportResult result = ModelExport.Export(folder, onnx);
        Assert.True(File.Exists(Path.Combine(onnx, "unet", "model.onnx")));
        Assert.True(File.Exists(Path.Combine(onnx, "scheduler", "scheduler_config.json")));
        Assert.Contains("OnnxRuntimeModel", File.ReadAllText(Path.Combine(onnx, "model_index.json")));
        Assert.Contains(result.Summary, l => l.Contains("max abs error vs TorchSharp", StringComparison.Ordinal));
        OnnxChecker.Check(Path.Combine(onnx, "unet", "model.onnx"));

        using var ort = OrtDiffusionPipeline.FromPretrained(onnx);
        foreach (string scheduler in new[] { "ddim", "ddpm" })
        {
            pipe.Scheduler = Schedulers.Create(scheduler, pipe.Scheduler.Config);
            ort.Scheduler = Schedulers.Create(scheduler, ort.Scheduler.Config);
            var options = new SamplingOptions { NumImages = 3, NumInferenceSteps = 5, Seed = 21, ClassLabels = [0, 3, 4], GuidanceScale = 1.5 };
            double diff = UNetTestConfigs.MaxAbs(pipe.Generate(options).Samples, ort.Generate(options).Samples);
            Assert.True(diff <= 1e-3, $"{scheduler}: ONNX Runtime vs TorchSharp pipeline differ by {diff:g3}");
        }
        Assert.Throws<TesseraFormatException>(() => DiffusionPipeline.FromPretrained(onnx));
        Assert.Throws<TesseraFormatException>(() => OrtDiffusionPipeline.FromPretrained(folder));
    }

    /// <summary>A hub repository id loads from the hub cache (huggingface_hub's layout: refs/main names the snapshot) without a network, offline.</summary>
    [Fact]
    public void From_pretrained_takes_a_hub_repository_id_and_resolves_it_through_the_cache()
    {
        using var dir = new TempDirectory("tessera-pipe-hub-");
        using var pipe = NewPipeline(scheduler: "ddim");
        var options = new SamplingOptions { NumImages = 1, NumInferenceSteps = 2, Seed = 3, ClassLabel = 2 };
        DiffusionOutput before = pipe.Generate(options);
        var cache = new Hub.HubCache(Path.Combine(dir.Path, "hub"));
        string commit = new('c', 40);
        pipe.SavePretrained(cache.SnapshotPath("tessera-test/tiny-ddim", commit));
        string refs = Path.Combine(cache.RepoPath("tessera-test/tiny-ddim"), "refs");
        Directory.CreateDirectory(refs);
        File.WriteAllText(Path.Combine(refs, "main"), commit);
        var offline = new Hub.HubOptions { CacheDir = cache.CacheDir, Offline = true };

        using (var loaded = DiffusionPipeline.FromPretrained("tessera-test/tiny-ddim", hub: offline))
            Assert.Equal(before.Samples, loaded.Generate(options).Samples);
        var missing = Assert.ThrowsAny<Hub.HubException>(() => DiffusionPipeline.FromPretrained("tessera-test/not-cached", hub: offline));
        Assert.Contains("looked up on the Hub as a repository id", missing.Message);
        // A path that does not exist stays a path: the error names the folder, no hub lookup.
        var path = Assert.Throws<TesseraFormatException>(() => DiffusionPipeline.FromPretrained(Path.Combine(dir.Path, "nope"), hub: offline));
        Assert.Contains("nope", path.Message);
    }

    /// <summary>diffusers writes <c>sample_size</c> as one number or as <c>[height, width]</c>; both load, round trip, and set the image shape.</summary>
    [Fact]
    public void Sample_size_as_height_width_loads_round_trips_and_shapes_the_images()
    {
        static UNet2DConfig Parse(string sampleSize)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(UNetTestConfigs.ClassConditional().ToDiffusersJson())!.AsObject();
            node["sample_size"] = System.Text.Json.Nodes.JsonNode.Parse(sampleSize);
            return (UNet2DConfig)global::Tessera.Transformers.PretrainedConfig.Parse(node.ToJsonString(), "config.json");
        }
        UNet2DConfig wide = Parse("[8, 16]"), square = Parse("[8, 8]"), plain = Parse("8");
        Assert.Equal((8, 16, 16), (wide.SampleSize!.Value, wide.SampleWidth!.Value, wide.SampleSizeWidth!.Value));
        Assert.Equal((8, (int?)null, 8), (square.SampleSize!.Value, square.SampleWidth, square.SampleSizeWidth!.Value));
        Assert.Contains("[8,16]", wide.ToDiffusersJson().Replace(" ", "").Replace("\n", "").ReplaceLineEndings(""));
        Assert.Contains("[8,8]", square.ToDiffusersJson().Replace(" ", "").ReplaceLineEndings(""));
        Assert.Contains("\"sample_size\":8,", plain.ToDiffusersJson().Replace(" ", "").ReplaceLineEndings(""));
        Assert.Equal(wide, (UNet2DConfig)global::Tessera.Transformers.PretrainedConfig.Parse(wide.ToDiffusersJson(), "config.json"));
        var bad = Assert.Throws<TesseraFormatException>(() => Parse("[8]"));
        Assert.Contains("sample_size", bad.Message);

        using var pipe = NewPipeline(wide);
        DiffusionOutput output = pipe.Generate(new SamplingOptions { NumImages = 1, NumInferenceSteps = 2, Seed = 1, ClassLabel = 0 });
        Assert.Equal((8, 16), (output.Height, output.Width));
        Assert.DoesNotContain(output.Samples, float.IsNaN);
    }
}
