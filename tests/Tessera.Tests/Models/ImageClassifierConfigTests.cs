using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Formats;
using Tessera.Models;
using Tessera.Tests.Shared;
using Tessera.Transformers;

namespace Tessera.Tests.Models;

public class ImageClassifierConfigTests
{
    static string Write(TempDirectory dir, string json)
    {
        string path = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(path, json);
        return path;
    }

    public static TheoryData<PretrainedConfig> NonDefaultConfigs() => new()
    {
        new CnnConfig { InChannels = 3, ImageSize = 32, NumClasses = 7, Hidden = 64 },
        new MlpConfig { InputSize = 100, HiddenSizes = [64, 32, 16], NumClasses = 5, Dropout = 0.25 },
        new ResNetConfig { InChannels = 3, NumClasses = 100, Depths = [1, 1, 2, 3], Widths = [8, 16, 32, 64], BatchNormEps = 1e-3, BatchNormMomentum = 0.01 },
    };

    [Theory]
    [MemberData(nameof(NonDefaultConfigs))]
    public void Save_then_Load_gives_an_equal_config_of_the_same_type(PretrainedConfig config)
    {
        using var dir = new TempDirectory("tessera-models-");
        string path = Path.Combine(dir.Path, "sub", "config.json");
        config.Save(path);
        var loaded = PretrainedConfig.Load(path);
        Assert.IsType(config.GetType(), loaded);
        Assert.Equal(config, loaded);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp"));
    }

    [Fact]
    public void Json_uses_snake_case_names_with_model_type_first()
    {
        var json = JsonNode.Parse(new ResNetConfig().ToJson())!.AsObject();
        Assert.Equal(["model_type", "in_channels", "num_classes", "depths", "widths", "batch_norm_eps", "batch_norm_momentum"],
            json.Select(kv => kv.Key).ToArray());
        Assert.Equal("resnet", (string?)json["model_type"]);
        var cnn = JsonNode.Parse(new CnnConfig().ToJson())!.AsObject();
        Assert.Equal(["model_type", "in_channels", "image_size", "num_classes", "hidden"], cnn.Select(kv => kv.Key).ToArray());
        var mlp = JsonNode.Parse(new MlpConfig().ToJson())!.AsObject();
        Assert.Equal(["model_type", "input_size", "hidden_sizes", "num_classes", "dropout"], mlp.Select(kv => kv.Key).ToArray());
    }

    [Fact]
    public void Unknown_fields_survive_a_load_save_round_trip()
    {
        using var dir = new TempDirectory("tessera-models-");
        const string json = """
            {
              "architectures": ["Cnn"],
              "model_type": "cnn",
              "hidden": 64,
              "torch_dtype": "float32",
              "id2label": {"0": "T-shirt", "1": "Trouser"},
              "nested": {"list": [1, 2.5, null, true], "s": "x:y"}
            }
            """;
        string path = Write(dir, json);
        var config = Assert.IsType<CnnConfig>(PretrainedConfig.Load(path));
        Assert.Equal(64, config.Hidden);
        Assert.Equal(28, config.ImageSize); // absent fields take defaults
        Assert.Equal(["Cnn"], config.Architectures!); // base fields of every config.json
        Assert.Equal("float32", config.TorchDtype);
        Assert.Equal(["T-shirt", "Trouser"], config.Labels);
        Assert.NotNull(config.ExtensionData);
        Assert.Equal(["nested"], config.ExtensionData!.Keys.ToArray());

        string saved = Path.Combine(dir.Path, "saved.json");
        config.Save(saved);
        var original = JsonNode.Parse(json)!.AsObject();
        var written = JsonNode.Parse(File.ReadAllText(saved))!.AsObject();
        foreach (var key in new[] { "architectures", "torch_dtype", "id2label", "nested", "model_type", "hidden" })
            Assert.True(JsonNode.DeepEquals(original[key], written[key]), $"{key}: {original[key]} vs {written[key]}");
        Assert.Equal(1, written.Count(kv => kv.Key == "model_type"));
        Assert.Equal(config, PretrainedConfig.Load(saved)); // equality includes the unknown fields
        Assert.NotEqual(config, config with { ExtensionData = null });
    }

    [Fact]
    public void Missing_model_type_names_the_file()
    {
        using var dir = new TempDirectory("tessera-models-");
        string path = Write(dir, """{"hidden": 5}""");
        var e = Assert.Throws<TesseraFormatException>(() => PretrainedConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("model_type", e.Message);
        Assert.Equal(path, e.FilePath);
    }

    [Fact]
    public void Unknown_model_type_names_the_file_and_the_value()
    {
        using var dir = new TempDirectory("tessera-models-");
        string path = Write(dir, """{"model_type": "gpt9"}""");
        var e = Assert.Throws<TesseraFormatException>(() => PretrainedConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("\"gpt9\"", e.Message);
        Assert.Contains("cnn, mlp, resnet", e.Message);
    }

    [Theory]
    [InlineData("""{"model_type": 3}""", "model_type")]
    [InlineData("""[1, 2]""", "JSON object")]
    [InlineData("""{"model_type": "cnn", "hidden": """, "invalid JSON")]
    [InlineData("""{"model_type": "cnn", "hidden": -1}""", "hidden")]
    [InlineData("""{"model_type": "cnn", "hidden": "wide"}""", "hidden")]
    [InlineData("""{"model_type": "mlp", "dropout": 1.5}""", "dropout")]
    [InlineData("""{"model_type": "resnet", "depths": [2, 2], "widths": [8]}""", "widths")]
    [InlineData("""{"model_type": "resnet", "depths": [2, 0], "widths": [8, 16]}""", "depths")]
    public void Bad_configs_raise_a_format_error_naming_file_and_field(string json, string expected)
    {
        using var dir = new TempDirectory("tessera-models-");
        string path = Write(dir, json);
        var e = Assert.Throws<TesseraFormatException>(() => PretrainedConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Registry_builds_the_image_classifier_the_config_names()
    {
        using var cnn = AutoModelForImageClassification.FromConfig(new CnnConfig());
        using var mlp = AutoModelForImageClassification.FromConfig(new MlpConfig());
        using var resnet = AutoModelForImageClassification.FromConfig(new ResNetConfig());
        Assert.IsType<Cnn>(cnn);
        Assert.IsType<Mlp>(mlp);
        Assert.IsType<ResNet>(resnet);
        Assert.Throws<ArgumentException>(() => AutoModelForImageClassification.FromConfig(new CnnConfig { ImageSize = 2 }));
        var e = Assert.Throws<TesseraFormatException>(() => AutoModelForImageClassification.FromConfig(Tessera.Tests.Transformers.TinyModels.Gpt2()));
        Assert.Contains("\"gpt2\" has no image classifier (supported: cnn, mlp, resnet", e.Message);
    }

    [Fact]
    public void Cnn_fc1_input_is_image_size_over_four_squared_times_64()
    {
        Assert.Equal(3136, new CnnConfig().FlattenedFeatures);
        Assert.Equal(7 * 7 * 64, new CnnConfig { ImageSize = 30 }.FlattenedFeatures); // 30 -> 15 -> 7
    }
}
