using Tessera.Diffusion;
using Tessera.Formats;
using Tessera.Formats.SafeTensors;
using Tessera.Models;
using Tessera.Tests.Shared;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Tests.Diffusion;

public class UNet2DModelTests
{
    [Fact]
    public void State_dict_has_diffusers_names()
    {
        using var model = new UNet2DModel(UNetTestConfigs.ClassConditional());
        var sd = model.state_dict();
        string[] expected =
        [
            "conv_in.weight", "time_embedding.linear_1.weight", "time_embedding.linear_2.bias", "class_embedding.weight",
            "down_blocks.0.resnets.0.norm1.weight", "down_blocks.0.resnets.0.conv1.weight", "down_blocks.0.resnets.0.time_emb_proj.weight",
            "down_blocks.0.resnets.0.norm2.bias", "down_blocks.0.resnets.0.conv2.weight", "down_blocks.0.downsamplers.0.conv.weight",
            "down_blocks.1.resnets.0.conv_shortcut.weight", "down_blocks.1.attentions.0.group_norm.weight", "down_blocks.1.attentions.0.to_q.weight",
            "down_blocks.1.attentions.0.to_k.bias", "down_blocks.1.attentions.0.to_v.weight", "down_blocks.1.attentions.0.to_out.0.weight",
            "mid_block.resnets.0.conv1.weight", "mid_block.attentions.0.to_q.weight", "mid_block.resnets.1.conv2.bias",
            "up_blocks.0.resnets.1.conv_shortcut.weight", "up_blocks.0.attentions.1.to_out.0.bias", "up_blocks.0.upsamplers.0.conv.weight",
            "up_blocks.1.resnets.0.conv1.weight", "conv_norm_out.weight", "conv_out.bias",
        ];
        foreach (string name in expected) Assert.True(sd.ContainsKey(name), $"missing {name}");
        Assert.Equal([5L, 64], sd["class_embedding.weight"].shape);
        Assert.Equal([32L, 64, 1, 1], sd["up_blocks.0.resnets.0.conv_shortcut.weight"].shape); // 32 + 32 skip -> 32
        Assert.Equal([32L, 48, 1, 1], sd["up_blocks.0.resnets.1.conv_shortcut.weight"].shape); // 32 + 16 skip -> 32
        Assert.False(sd.ContainsKey("up_blocks.1.upsamplers.0.conv.weight"));
        Assert.DoesNotContain(sd.Keys, k => k.Contains("dropout", StringComparison.Ordinal));
        // Fresh norms start as PyTorch's: weight 1, bias 0 (TorchSharp 0.107's GroupNorm leaves them uninitialised).
        foreach (var (name, value) in sd.Where(kv => kv.Key.Contains("norm", StringComparison.Ordinal)))
            Assert.True(value.eq(name.EndsWith("weight", StringComparison.Ordinal) ? 1f : 0f).all().item<bool>(), name);
    }

    public static TheoryData<string> Configs => ["class-conditional", "scale-shift"];

    static UNet2DConfig Config(string name) => name == "class-conditional" ? UNetTestConfigs.ClassConditional() : UNetTestConfigs.ScaleShift();

    /// <summary>
    /// Weights cross in both directions through diffusers' file (<c>diffusion_pytorch_model.safetensors</c>, diffusers'
    /// names, strict loads): ours into an independent PyTorch implementation, and a PyTorch-initialised model into ours.
    /// Both forwards must agree with PyTorch 1.13 to 1e-4.
    /// </summary>
    [Theory]
    [MemberData(nameof(Configs))]
    [Trait("Category", "Slow")]
    public void Forward_matches_independent_pytorch_implementation_both_ways(string configName)
    {
        Requires.Python("torch", "numpy");
        using var dir = new TempDirectory("tessera-unet-");
        using var scope = NewDisposeScope();
        manual_seed(3);
        UNet2DConfig config = Config(configName);
        using var model = new UNet2DModel(config);
        UNetTestConfigs.RandomizeNorms(model);
        model.eval();
        model.SavePretrained(Path.Combine(dir.Path, "csharp"));
        Tensor x = randn(2, config.InChannels, 8, 8);
        Tensor t = tensor(new float[] { 7f, 913.5f });
        Tensor labels = config.ClassEmbedType == "timestep" ? tensor(new long[] { 3, 250 }) : tensor(new long[] { 4, 1 });
        UNetTestConfigs.WriteTensors(Path.Combine(dir.Path, "inputs.safetensors"), ("sample", x), ("timestep", t), ("class_labels", labels));

        ReferencePython.Run(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Diffusion", "reference_unet2d.py")), dir.Path);

        Tensor ours;
        using (no_grad()) ours = model.call(x, t, labels);
        double toPython = UNetTestConfigs.MaxAbs(ReferencePython.ReadFloats(Path.Combine(dir.Path, "out_csharp.bin")), UNetTestConfigs.Floats(ours));
        Assert.True(toPython <= 1e-4, $"our weights in PyTorch: max abs {toPython:g3}");

        using var loaded = UNet2DModel.FromPretrained(Path.Combine(dir.Path, "python"));
        Tensor theirs;
        using (no_grad()) theirs = loaded.call(x, t, labels);
        float[] expected = ReferencePython.ReadFloats(Path.Combine(dir.Path, "out_python.bin"));
        double fromPython = UNetTestConfigs.MaxAbs(expected, UNetTestConfigs.Floats(theirs));
        Assert.True(fromPython <= 1e-4, $"PyTorch's weights in Tessera: max abs {fromPython:g3}");
        Assert.Contains(expected, v => Math.Abs(v) > 1e-3);
    }

    [Fact]
    public void Legacy_attention_names_load_as_diffusers_renames_them()
    {
        using var dir = new TempDirectory("tessera-unet-");
        using var scope = NewDisposeScope();
        UNet2DConfig config = UNetTestConfigs.ClassConditional();
        using var model = new UNet2DModel(config);
        model.SavePretrained(dir.Path);
        string Legacy(string key) => key.Replace(".to_q.", ".query.").Replace(".to_k.", ".key.").Replace(".to_v.", ".value.").Replace(".to_out.0.", ".proj_attn.");
        var renamed = model.state_dict().Select(kv => (Legacy(kv.Key), kv.Value)).ToArray();
        Assert.Contains(renamed, r => r.Item1 == "mid_block.attentions.0.proj_attn.weight");
        UNetTestConfigs.WriteTensors(Path.Combine(dir.Path, UNet2DModel.WeightsFile), renamed);

        using var loaded = UNet2DModel.FromPretrained(dir.Path);
        Tensor x = randn(1, 3, 8, 8), t = tensor(new float[] { 5f }), labels = tensor(new long[] { 2 });
        model.eval();
        using (no_grad())
            Assert.Equal(0.0, UNetTestConfigs.MaxAbs(UNetTestConfigs.Floats(model.call(x, t, labels)), UNetTestConfigs.Floats(loaded.call(x, t, labels))));
        Assert.Equal("mid_block.attentions.0.to_out.0.bias", UNet2DModel.RenameLegacyKey("mid_block.attentions.0.proj_attn.bias"));
        Assert.Equal("down_blocks.1.resnets.0.conv1.weight", UNet2DModel.RenameLegacyKey("down_blocks.1.resnets.0.conv1.weight"));
    }

    [Fact]
    public void Config_round_trips_as_diffusers_json_without_model_type()
    {
        using var dir = new TempDirectory("tessera-unet-");
        UNet2DConfig config = UNetTestConfigs.ScaleShift();
        string path = Path.Combine(dir.Path, "config.json");
        config.SaveDiffusers(path);
        string json = File.ReadAllText(path);
        Assert.DoesNotContain("model_type", json);
        Assert.Contains("\"_class_name\": \"UNet2DModel\"", json);
        Assert.Contains("\"attention_head_dim\": null", json); // null means one head; dropping it would read back as the default 8
        Assert.Equal(config, UNet2DConfig.Load(path));
        Assert.IsType<UNet2DConfig>(AutoConfig.FromPretrained(dir.Path));
    }

    [Fact]
    public void Diffusers_config_with_unknown_keys_loads_with_defaults()
    {
        using var dir = new TempDirectory("tessera-unet-");
        string path = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(path, """
            {"_class_name": "UNet2DModel", "_diffusers_version": "0.1.1", "act_fn": "silu", "attention_head_dim": null,
             "block_out_channels": [128, 256, 256, 256], "center_input_sample": false,
             "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"], "downsample_padding": 0,
             "flip_sin_to_cos": false, "freq_shift": 1, "in_channels": 3, "layers_per_block": 2, "mid_block_scale_factor": 1,
             "norm_eps": 1e-06, "norm_num_groups": 32, "out_channels": 3, "resnet_num_groups": 32, "sample_size": 32,
             "time_embedding_type": "positional", "up_block_types": ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"]}
            """);
        UNet2DConfig config = UNet2DConfig.Load(path);
        Assert.Equal(32, config.SampleSize);
        Assert.Null(config.AttentionHeadDim);
        Assert.Equal("default", config.ResnetTimeScaleShift);
        Assert.True(config.ExtensionData!.ContainsKey("resnet_num_groups"));
        Assert.Contains("resnet_num_groups", config.ToDiffusersJson());
        using var model = new UNet2DModel(config with { BlockOutChannels = [32, 32, 32, 32] });
        Assert.Equal(1, UNet2DModel.HeadsFor(config, 256));
    }

    [Fact]
    public void Unknown_block_type_is_one_clear_error_naming_file_and_field()
    {
        using var dir = new TempDirectory("tessera-unet-");
        string path = Path.Combine(dir.Path, "config.json");
        UNetTestConfigs.ClassConditional().SaveDiffusers(path);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"AttnDownBlock2D\"", "\"CrossAttnDownBlock2D\""));
        var e = Assert.Throws<TesseraFormatException>(() => UNet2DConfig.Load(path));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("down_block_types", e.Message);
        Assert.Contains("CrossAttnDownBlock2D", e.Message);
    }

    [Fact]
    public void Weights_of_another_shape_are_rejected_naming_the_tensor()
    {
        using var dir = new TempDirectory("tessera-unet-");
        using (var model = new UNet2DModel(UNetTestConfigs.ClassConditional())) model.SavePretrained(dir.Path);
        (UNetTestConfigs.ClassConditional() with { BlockOutChannels = [16, 48] }).SaveDiffusers(Path.Combine(dir.Path, "config.json"));
        var e = Assert.Throws<TesseraFormatException>(() => UNet2DModel.FromPretrained(dir.Path));
        Assert.Contains("shape", e.Message);
        Assert.Contains(UNet2DModel.WeightsFile, e.Message);
    }

    [Fact]
    public void Missing_config_or_weights_are_clear_errors()
    {
        using var dir = new TempDirectory("tessera-unet-");
        var e = Assert.Throws<FileNotFoundException>(() => UNet2DModel.FromPretrained(dir.Path));
        Assert.Contains("config.json", e.Message);
        UNetTestConfigs.ClassConditional().SaveDiffusers(Path.Combine(dir.Path, "config.json"));
        var w = Assert.Throws<FileNotFoundException>(() => UNet2DModel.FromPretrained(dir.Path));
        Assert.Contains(UNet2DModel.WeightsFile, w.Message);
    }

    [Fact]
    public void Class_labels_are_required_exactly_for_class_conditional_models()
    {
        using var scope = NewDisposeScope();
        using var conditional = new UNet2DModel(UNetTestConfigs.ClassConditional());
        using var unconditional = new UNet2DModel(UNetTestConfigs.Unconditional());
        Tensor x = randn(1, 3, 8, 8), t = tensor(1f);
        Assert.Throws<ArgumentException>(() => conditional.call(x, t, null));
        Assert.Throws<ArgumentException>(() => unconditional.call(x, t, tensor(new long[] { 1 })));
        Assert.Equal([1L, 3, 8, 8], unconditional.call(x, t, null).shape);
    }

    [Fact]
    public void Registry_builds_the_unet_for_the_denoising_task()
    {
        var config = (UNet2DConfig)PretrainedConfig.Parse(UNetTestConfigs.ClassConditional().ToDiffusersJson());
        using var model = ModelRegistry.Create(ModelTasks.Denoising, config);
        Assert.IsType<UNet2DModel>(model);
        Assert.NotNull(ModelRegistry.Exporter(UNet2DConfig.Type));
    }
}
