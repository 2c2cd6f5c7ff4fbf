using System.Text.Json;
using Tessera.Formats;
using Tessera.Formats.SafeTensors;
using Tessera.Tests.Shared;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Transformers;

public class PretrainedWeightsTests
{
    [Fact]
    public void Saved_checkpoints_use_hf_key_names_and_pt_metadata()
    {
        using var dir = new TempDirectory("tessera-weights-");
        using var model = new LlamaForCausalLM(TinyModels.Llama());
        model.SavePretrained(dir.Path);
        using var file = SafeTensorsFile.Open(dir.File("model.safetensors"));
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(model.state_dict().Keys.Order(), file.Tensors.Select(t => t.Name).Order());
        Assert.All(file.Tensors, t => Assert.Equal(SafeTensorDType.F32, t.DType));
        Assert.Equal("llama", JsonDocument.Parse(File.ReadAllText(dir.File("config.json"))).RootElement.GetProperty("model_type").GetString());
    }

    [Theory]
    [InlineData(ScalarType.Float16, SafeTensorDType.F16, 5e-3)]
    [InlineData(ScalarType.BFloat16, SafeTensorDType.BF16, 3e-2)]
    public void Half_precision_checkpoints_load_into_float32_and_match(ScalarType half, SafeTensorDType stored, double tolerance)
    {
        using var dir = new TempDirectory("tessera-weights-");
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        using var model = new LlamaForCausalLM(TinyModels.Llama());
        TinyModels.Randomize(model, 9);
        model.eval();
        model.SavePretrained(dir.Path, dtype: half);
        Assert.All(SafeTensorsFile.ReadHeader(dir.File("model.safetensors")), t => Assert.Equal(stored, t.DType));
        Assert.Equal(PretrainedWeights.TorchDtypeName(half), PretrainedConfig.Load(dir.Path).TorchDtype);

        using var loaded = LlamaForCausalLM.FromPretrained(dir.Path);
        var report = loaded.LoadWeights(dir.Path);
        Assert.Equal(loaded.state_dict().Count, report.ConvertedKeys.Count);
        // Each weight is exactly the original rounded to the half type, now held as float32.
        foreach (var (name, original) in model.state_dict())
        {
            Tensor got = loaded.state_dict()[name];
            Assert.Equal(ScalarType.Float32, got.dtype);
            Assert.True(got.allclose(original.to_type(half).to_type(ScalarType.Float32), 0, 0), name);
        }
        var (ids, mask) = TinyModels.Inputs(100, 8, seed: 1, 0, 2);
        using var noGrad = no_grad();
        double diff = TinyModels.MaxDifference(model.forward(ids, mask).Logits, loaded.forward(ids, mask).Logits, mask);
        Assert.True(diff <= tolerance, $"max abs logit difference {diff:g3} > {tolerance}");

        // Asked to keep the half type, the model runs in it.
        using var halfModel = LlamaForCausalLM.FromPretrained(dir.Path, new FromPretrainedOptions { UseConfigDtype = true });
        Assert.All(halfModel.parameters(), p => Assert.Equal(half, p.dtype));
        Assert.Empty(halfModel.LoadWeights(dir.Path).ConvertedKeys);
    }

    [Fact]
    public void Sharded_checkpoints_round_trip_through_the_index()
    {
        using var dir = new TempDirectory("tessera-weights-");
        using var scope = NewDisposeScope();
        using var model = new Gpt2LMHeadModel(TinyModels.Gpt2());
        TinyModels.Randomize(model, 5);
        model.eval();
        model.SavePretrained(dir.Path); // a single file first: saving sharded must replace it
        model.SavePretrained(dir.Path, maxShardBytes: 20_000);

        Assert.False(File.Exists(dir.File("model.safetensors")));
        string[] shards = Directory.GetFiles(dir.Path, "model-*-of-*.safetensors").Select(Path.GetFileName).Order().ToArray()!;
        Assert.True(shards.Length >= 3, $"expected several shards, got {shards.Length}");
        using var index = JsonDocument.Parse(File.ReadAllText(dir.File("model.safetensors.index.json")));
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.Equal(model.state_dict().Keys.Order(), weightMap.Keys.Order());
        Assert.Equal(shards, weightMap.Values.Distinct().Order().ToArray());
        long total = model.state_dict().Values.Sum(t => t.numel() * 4);
        Assert.Equal(total, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        Assert.All(shards, s => Assert.Equal("pt", SafeTensorsFile.Open(dir.File(s)).Metadata["format"]));

        using var loaded = (Gpt2LMHeadModel)AutoModelForCausalLM.FromPretrained(dir.Path);
        var (ids, _) = TinyModels.Inputs(100, 7, seed: 2, 0);
        using var noGrad = no_grad();
        Assert.Equal(0, TinyModels.MaxDifference(model.forward(ids).Logits, loaded.forward(ids).Logits));

        model.SavePretrained(dir.Path); // and back to one file: shards and index go
        Assert.Empty(Directory.GetFiles(dir.Path, "model-*-of-*.safetensors"));
        Assert.False(File.Exists(dir.File("model.safetensors.index.json")));
    }

    [Fact]
    public void An_index_naming_a_tensor_its_shard_lacks_is_an_error()
    {
        using var dir = new TempDirectory("tessera-weights-");
        using (var model = new Gpt2LMHeadModel(TinyModels.Gpt2())) model.SavePretrained(dir.Path, maxShardBytes: 20_000);
        string indexPath = dir.File("model.safetensors.index.json");
        string json = File.ReadAllText(indexPath).Replace("\"transformer.wte.weight\"", "\"transformer.nope.weight\"");
        File.WriteAllText(indexPath, json);
        var e = Assert.Throws<TesseraFormatException>(() => Gpt2LMHeadModel.FromPretrained(dir.Path));
        Assert.Contains("transformer.nope.weight", e.Message);
        Assert.Contains("model.safetensors.index.json", e.Message);
    }

    [Fact]
    public void A_shape_mismatch_names_the_tensor_and_both_shapes()
    {
        using var dir = new TempDirectory("tessera-weights-");
        using (var model = new Gpt2LMHeadModel(TinyModels.Gpt2())) model.SavePretrained(dir.Path);
        // Same file, config claiming a bigger vocabulary.
        (TinyModels.Gpt2() with { VocabSize = 120 }).Save(dir.File("config.json"));
        var e = Assert.Throws<TesseraFormatException>(() => AutoModelForCausalLM.FromPretrained(dir.Path));
        Assert.Contains("transformer.wte.weight", e.Message);
        Assert.Contains("[100, 32]", e.Message);
        Assert.Contains("[120, 32]", e.Message);
    }

    [Fact]
    public void A_folder_without_weights_names_the_files_looked_for()
    {
        using var dir = new TempDirectory("tessera-weights-");
        TinyModels.Llama().Save(dir.File("config.json"));
        var e = Assert.Throws<FileNotFoundException>(() => AutoModelForCausalLM.FromPretrained(dir.Path));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("model.safetensors.index.json", e.Message);
    }

    [Fact]
    public void Base_models_load_head_checkpoints_and_heads_load_base_checkpoints()
    {
        using var dir = new TempDirectory("tessera-weights-");
        using var scope = NewDisposeScope();
        using var lm = new LlamaForCausalLM(TinyModels.Llama() with { TieWordEmbeddings = true });
        TinyModels.Randomize(lm, 4);
        lm.SavePretrained(dir.Path);
        using var body = (LlamaModel)AutoModel.FromPretrained(dir.Path);
        Assert.True(body.EmbedTokens.weight!.allclose(lm.Model.EmbedTokens.weight!, 0, 0));

        using var dir2 = new TempDirectory("tessera-weights-");
        body.SavePretrained(dir2.Path);
        using var again = LlamaForCausalLM.FromPretrained(dir2.Path);
        var (ids, _) = TinyModels.Inputs(100, 5, seed: 3, 0);
        using var noGrad = no_grad();
        lm.eval();
        Assert.Equal(0, TinyModels.MaxDifference(lm.forward(ids).Logits, again.forward(ids).Logits));
    }
}
