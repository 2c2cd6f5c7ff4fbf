using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Tessera.Export;
using Tessera.Export.Decoders;
using Tessera.Export.Encoders;
using Tessera.Formats;
using Tessera.Formats.SafeTensors;
using Tessera.Models;
using Tessera.Tests.Shared;
using Tessera.Tests.Transformers;
using Tessera.Transformers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Tests.Models;

/// <summary>A user's architecture, written outside Tessera: a config record and a module, registered like the built-ins.</summary>
public sealed record ToyConfig : PretrainedConfig
{
    public const string Type = "toy-registry-test";

    public ToyConfig() => ModelType = Type;

    [JsonPropertyName("width")]
    public required int Width { get; init; }

    [JsonPropertyName("num_classes")]
    public int NumClasses { get; init; } = 3;

    public override void Validate()
    {
        Require(Width > 0, "width", $"must be positive, got {Width}");
        Require(NumClasses > 0, "num_classes", $"must be positive, got {NumClasses}");
    }
}

public sealed class ToyModel : nn.Module<Tensor, Tensor>, IPretrainedModel, IOnnxEmitter
{
    readonly Linear proj;
    readonly Linear head;

    public ToyModel(ToyConfig config) : base(nameof(ToyModel))
    {
        config.Validate();
        Config = config;
        proj = nn.Linear(4, config.Width);
        head = nn.Linear(config.Width, config.NumClasses);
        RegisterComponents();
    }

    public ToyConfig Config { get; }

    public PretrainedConfig PretrainedConfig => Config;

    public override Tensor forward(Tensor input) => head.call(nn.functional.relu(proj.call(input)));

    public string EmitOnnx(OnnxExportContext context, string input) =>
        context.EmitModule(head, context.Unary("Relu", context.EmitModule(proj, input, "proj")), "head");
}

public class ModelRegistryTests
{
    /// <summary>A task Tessera does not define, typed by the user's module (as UNet2D will add its own).</summary>
    static readonly ModelTask<ToyModel> ToyTask = new("toy scorer");

    static ModelRegistryTests() =>
        ModelRegistry.Register(new ModelArchitecture<ToyConfig>(ToyConfig.Type)
            .Add(ModelTasks.ImageClassification, c => new ToyModel(c))
            .Add(ToyTask, c => new ToyModel(c))
            .WithExporter(ImageClassifierExporter.For<ToyConfig>((_, _) => [1, 4])));

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.data<float>().ToArray().SequenceEqual(b.data<float>().ToArray());

    [Fact]
    public void A_user_architecture_round_trips_through_AutoConfig_SavePretrained_and_FromPretrained()
    {
        using var dir = new TempDirectory("tessera-registry-");
        manual_seed(1);
        var config = new ToyConfig { Width = 5 }.WithLabels(["a", "b", "c"]);
        using var model = new ToyModel(config);
        model.SavePretrained(dir.Path);

        var json = JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!.AsObject();
        Assert.Equal(ToyConfig.Type, (string?)json["model_type"]);
        Assert.Equal(5, (int?)json["width"]);
        Assert.Equal(TesseraInfo.Version, (string?)json["tessera_version"]);
        using (var file = SafeTensorsFile.Open(dir.File("model.safetensors")))
            Assert.Equal(["head.bias", "head.weight", "proj.bias", "proj.weight"], file.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));

        var read = Assert.IsType<ToyConfig>(AutoConfig.FromPretrained(dir.Path));
        Assert.Equal(["a", "b", "c"], read.Labels);
        Assert.Contains(ToyConfig.Type, PretrainedConfig.SupportedModelTypes);

        using var x = randn(2, 4);
        using var expected = model.call(x);
        using var loaded = AutoModelForImageClassification.FromPretrained(dir.Path);
        Assert.IsType<ToyModel>(loaded);
        Assert.False(loaded.training);
        using (var y = loaded.call(x)) Assert.True(Same(expected, y));

        ToyModel typed = PretrainedModels.FromPretrained(ToyTask, dir.Path); // the user's own task, typed by its module
        using (typed)
        using (var y = typed.call(x))
            Assert.True(Same(expected, y));

        Assert.Contains(ToyConfig.Type, ModelRegistry.ModelTypesFor(ModelTasks.ImageClassification));
        Assert.False(ModelRegistry.Supports(ToyConfig.Type, ModelTasks.CausalLM));
        var e = Assert.Throws<TesseraFormatException>(() => AutoModelForCausalLM.FromPretrained(dir.Path));
        Assert.Contains($"\"{ToyConfig.Type}\" has no causal language model", e.Message);
        Assert.Equal(dir.File("config.json"), e.FilePath);
    }

    [Fact]
    public void A_user_architecture_exports_through_its_registered_exporter()
    {
        using var dir = new TempDirectory("tessera-registry-");
        manual_seed(2);
        using (var model = new ToyModel(new ToyConfig { Width = 6 })) model.SavePretrained(dir.Path);
        var result = ModelExport.Export(dir.Path, dir.File("toy.onnx"), new ModelExportOptions { Verify = false });
        Assert.Equal(Path.GetFullPath(dir.File("toy.onnx")), result.ModelPath);
        Assert.True(File.Exists(result.ModelPath));
        Assert.Contains(result.Summary, l => l.StartsWith("opset ", StringComparison.Ordinal));
    }

    [Fact]
    public void Built_in_architectures_are_registered_with_their_tasks_and_exporters()
    {
        Assert.Equal(["gpt2", "llama", "qwen2", "mistral"], ModelRegistry.ModelTypesFor(ModelTasks.CausalLM));
        Assert.Equal(["cnn", "mlp", "resnet"], ModelRegistry.ModelTypesFor(ModelTasks.ImageClassification).Where(t => t != ToyConfig.Type));
        Assert.Equal(["bert"], ModelRegistry.ModelTypesFor(ModelTasks.SequenceClassification).Where(t => t != ToyConfig.Type));
        Assert.IsType<DecoderFolderExporter>(ModelRegistry.Exporter("qwen2"));
        Assert.IsType<EncoderFolderExporter>(ModelRegistry.Exporter("bert"));
        Assert.IsType<ImageClassifierExporter>(ModelRegistry.Exporter("resnet"));
        Assert.IsType<LlamaForCausalLM>(AutoModelForCausalLM.FromConfig(TinyModels.Llama() with { ModelType = "mistral" }));
        Assert.Throws<ArgumentException>(() => AutoConfig.Register<Gpt2Config>("cnn")); // one config record per model_type
    }

    [Fact]
    public void Cnn_folders_use_the_same_verbs_and_keep_their_JSON_and_parameter_names()
    {
        using var dir = new TempDirectory("tessera-registry-");
        manual_seed(3);
        var config = new CnnConfig { Hidden = 16 };
        using var cnn = new Cnn(config);
        ModelFolder.Save(dir.Path, config, cnn, new ImagePreprocessingConfig(), ["x", "y", "z", "3", "4", "5", "6", "7", "8", "9"]);

        var json = JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!.AsObject();
        Assert.Equal(["model_type", "in_channels", "image_size", "num_classes", "hidden", "id2label", "label2id", "tessera_version"],
            json.Select(kv => kv.Key).Order(StringComparer.Ordinal).Order(Comparer<string>.Create((a, b) => Rank(a).CompareTo(Rank(b)))).ToArray());
        Assert.Equal("x", (string?)json["id2label"]!["0"]);
        using (var file = SafeTensorsFile.Open(dir.File("model.safetensors")))
            Assert.Equal(cnn.state_dict().Keys.Order(StringComparer.Ordinal), file.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));

        using var x = randn(2, 1, 28, 28);
        cnn.eval();
        using var expected = cnn.call(x);
        using var loaded = Cnn.FromPretrained(dir.Path);
        using (var y = loaded.call(x)) Assert.True(Same(expected, y));
        Assert.Equal(["x", "y", "z", "3", "4", "5", "6", "7", "8", "9"], ModelFolder.Open(dir.Path).Labels);

        static int Rank(string key) => Array.IndexOf(["model_type", "in_channels", "image_size", "num_classes", "hidden", "id2label", "label2id", "tessera_version"], key);
    }

    [Fact]
    public void A_checkpoint_with_tensors_the_config_does_not_use_is_an_error_naming_the_file_and_tensors()
    {
        using var dir = new TempDirectory("tessera-registry-");
        using (var deep = new Gpt2LMHeadModel(TinyModels.Gpt2() with { NLayer = 2 })) deep.SavePretrained(dir.Path);
        var json = JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!.AsObject();
        json["n_layer"] = 1;
        File.WriteAllText(dir.File("config.json"), json.ToJsonString());

        var e = Assert.Throws<TesseraFormatException>(() => AutoModelForCausalLM.FromPretrained(dir.Path));
        Assert.Equal(dir.Path, e.FilePath);
        Assert.Contains("does not use", e.Message);
        Assert.Contains("transformer.h.1.attn.c_attn.weight", e.Message);
        Assert.DoesNotContain("transformer.h.0.", e.Message);

        using var lenient = AutoModelForCausalLM.FromPretrained(dir.Path, new FromPretrainedOptions { AllowUnexpectedKeys = true });
        Assert.Equal(1, lenient.NumLayers);
    }

    [Fact]
    public void Weights_are_checked_before_the_model_is_built()
    {
        using var dir = new TempDirectory("tessera-registry-");
        // A config that would need 4 GB of parameters, with no weights next to it: fails on the missing file, allocating nothing.
        File.WriteAllText(dir.File("config.json"), new CnnConfig { Hidden = 1 << 20, ImageSize = 64 }.ToJson());
        var e = Assert.Throws<FileNotFoundException>(() => AutoModelForImageClassification.FromPretrained(dir.Path));
        Assert.Contains("model.safetensors", e.Message);
    }
}
