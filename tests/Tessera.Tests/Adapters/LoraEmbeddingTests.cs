using System.Globalization;
using System.Text.Json;
using Tessera.Adapters;
using Tessera.Checkpoints;
using Tessera.Tests.Shared;
using Tessera.Tests.Transformers;
using Tessera.Transformers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static Tessera.Tests.Adapters.LoraTestModels;

namespace Tessera.Tests.Adapters;

public class LoraEmbeddingTests
{
    /// <summary>Gives every A and B random values, so every adapter changes the model (the embedding's A starts at zero).</summary>
    static void RandomizeAdapters(LoraModel peft, int seed)
    {
        var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (LoraLayer layer in peft.Layers.Values)
            foreach (string a in layer.Adapters)
            {
                layer.LoraA(a).copy_(randn(layer.LoraA(a).shape, generator: generator) * 0.1);
                layer.LoraB(a).copy_(randn(layer.LoraB(a).shape, generator: generator) * 0.1);
            }
    }

    [Fact]
    public void Embedding_adapter_has_peft_shapes_and_init_and_starts_equal_to_the_base()
    {
        using var scope = NewDisposeScope();
        var (ids, _) = TinyModels.Inputs(100, 12, 1, 0, 0);
        using var llama = Llama(1);
        Tensor before = Logits(llama, ids);
        var peft = LoraModel.Wrap(llama, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["embed_tokens", "q_proj"]));
        var embedding = Assert.IsType<LoraEmbedding>(peft.Layers["model.embed_tokens"]);
        Assert.IsType<LoraLinear>(peft.Layers["model.layers.0.self_attn.q_proj"]);
        Assert.Equal([4L, 100L], embedding.LoraA("default").shape);
        Assert.Equal([32L, 4L], embedding.LoraB("default").shape);
        // PEFT: A zeros and B standard normal for embeddings (the reverse of Linear).
        Assert.Equal(0.0, embedding.LoraA("default").abs().max().item<float>());
        double std = embedding.LoraB("default").std().item<float>();
        Assert.InRange(std, 0.6, 1.4);
        Assert.True(MaxDiff(before, Logits(llama, ids)) <= 1e-6);
        Assert.Contains(llama.named_parameters(), p => p.name == "model.embed_tokens.lora_embedding_A.default" && p.parameter.requires_grad);
        Assert.Contains(llama.named_parameters(), p => p.name == "model.embed_tokens.weight" && !p.parameter.requires_grad);

        using var gpt2 = Gpt2(2);
        before = Logits(gpt2, ids);
        peft = LoraModel.Wrap(gpt2, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["wte", "c_attn"]) { Dropout = 0.5 });
        Assert.IsType<LoraEmbedding>(peft.Layers["transformer.wte"]);
        Assert.True(MaxDiff(before, Logits(gpt2, ids)) <= 1e-6);
    }

    [Fact]
    public void Lora_dropout_is_not_applied_to_embeddings()
    {
        using var scope = NewDisposeScope();
        var (ids, _) = TinyModels.Inputs(100, 12, 3, 0, 0);
        using var gpt2 = Gpt2(3);
        var peft = LoraModel.Wrap(gpt2, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["wte"]) { Dropout = 0.9 });
        RandomizeAdapters(peft, 4);
        gpt2.train();
        Embedding wte = gpt2.Transformer.Wte;
        using var noGrad = no_grad();
        Tensor first = wte.call(ids), second = wte.call(ids);
        Assert.Equal(0.0, MaxDiff(first, second));
        gpt2.eval();
        Assert.Equal(0.0, MaxDiff(first, wte.call(ids)));
    }

    [Fact]
    public void Training_updates_the_embedding_adapter_and_leaves_the_table_alone()
    {
        using var scope = NewDisposeScope();
        using var llama = Llama(5);
        var before = Snapshot(llama);
        var peft = LoraModel.Wrap(llama, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["embed_tokens"]));
        Assert.Equal(4 * 100 + 32 * 4, peft.ParameterCounts().Trainable);
        llama.train();
        using var optimizer = optim.AdamW(llama.parameters(), 1e-2, weight_decay: 0.1);
        var (ids, _) = TinyModels.Inputs(100, 10, 6, 0, 0);
        for (int step = 0; step < 3; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            CausalLanguageModel.CausalLMLoss(llama.forward(ids, useCache: false).Logits, ids).backward();
            optimizer.step();
        }
        var layer = (LoraEmbedding)peft.Layers["model.embed_tokens"];
        Assert.True(layer.LoraA("default").abs().max().item<float>() > 0, "A did not move from zero");
        foreach (var (name, t) in before) Assert.Equal(0.0, MaxDiff(llama.state_dict()[name], t));
    }

    [Fact]
    public void Embedding_adapter_saves_and_loads_with_peft_key_names()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory("tessera-lora-emb-");
        var (ids, _) = TinyModels.Inputs(100, 12, 7, 0, 0);
        using var llama = Llama(8);
        var peft = LoraModel.Wrap(llama, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["embed_tokens", "v_proj"]));
        RandomizeAdapters(peft, 9);
        Tensor expected = Logits(llama, ids);
        peft.SavePretrained(dir.Path);

        var saved = SafeTensorsTorch.Load(Path.Combine(dir.Path, LoraModel.WeightsFileName));
        Assert.Equal([4L, 100L], saved["base_model.model.model.embed_tokens.lora_embedding_A"].shape);
        Assert.Equal([32L, 4L], saved["base_model.model.model.embed_tokens.lora_embedding_B"].shape);
        Assert.Contains("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", saved.Keys);
        Assert.Equal(2 + 2 * 2, saved.Count);
        Assert.DoesNotContain(saved.Keys, k => k.Contains("default", StringComparison.Ordinal));
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, LoraConfig.FileName))))
        {
            Assert.Equal(["embed_tokens", "v_proj"], json.RootElement.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
            Assert.False(json.RootElement.GetProperty("fan_in_fan_out").GetBoolean());
        }

        using var fresh = Llama(8);
        var loaded = LoraModel.FromPretrained(fresh, dir.Path);
        Assert.Equal(0.0, MaxDiff(expected, Logits(fresh, ids)));
        Assert.Equal(0, loaded.ParameterCounts().Trainable);

        // PEFT also writes the full table (base_layer.weight) when embed_tokens is targeted; such a file loads too.
        saved["base_model.model.model.embed_tokens.base_layer.weight"] = llama.state_dict()["model.embed_tokens.weight"];
        string withBase = dir.File("with-base");
        Directory.CreateDirectory(withBase);
        SafeTensorsTorch.Save(Path.Combine(withBase, LoraModel.WeightsFileName), saved);
        File.Copy(Path.Combine(dir.Path, LoraConfig.FileName), Path.Combine(withBase, LoraConfig.FileName));
        using var third = Llama(8);
        LoraModel.FromPretrained(third, withBase);
        Assert.Equal(0.0, MaxDiff(expected, Logits(third, ids)));
    }

    [Fact]
    public void Merge_of_an_untied_embedding_matches_unmerged_and_unmerge_restores()
    {
        using var scope = NewDisposeScope();
        var (ids, _) = TinyModels.Inputs(100, 12, 10, 0, 0);
        using var llama = Llama(11);
        Assert.False(llama.Config.TieWordEmbeddings);
        var before = Snapshot(llama);
        var peft = LoraModel.Wrap(llama, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["embed_tokens", "q_proj"]));
        RandomizeAdapters(peft, 12);
        Tensor adapted = Logits(llama, ids);
        Assert.True(MaxDiff(adapted, Logits(llama, ids)) == 0);
        peft.Merge();
        Tensor merged = Logits(llama, ids);
        Assert.True(MaxDiff(adapted, merged) <= 1e-4, $"merged differs by {MaxDiff(adapted, merged)}");
        Assert.True(MaxDiff(before["model.embed_tokens.weight"], llama.state_dict()["model.embed_tokens.weight"]) > 1e-3);
        peft.Unmerge();
        foreach (var (name, t) in before) Assert.True(MaxDiff(llama.state_dict()[name], t) <= 1e-5, name);
        Assert.True(MaxDiff(adapted, Logits(llama, ids)) <= 1e-5);

        var plain = (LlamaForCausalLM)peft.MergeAndUnload();
        Assert.DoesNotContain(plain.state_dict().Keys, k => k.Contains("lora", StringComparison.Ordinal));
        Assert.True(MaxDiff(adapted, Logits(plain, ids)) <= 1e-4);
    }

    [Fact]
    public void Tied_gpt2_embedding_adapter_changes_the_lookup_only_until_merged()
    {
        using var scope = NewDisposeScope();
        var (ids, _) = TinyModels.Inputs(100, 12, 13, 0, 0);
        using var gpt2 = Gpt2(14);
        Tensor baseWeight = gpt2.Transformer.Wte.weight!.detach().clone();
        var peft = LoraModel.Wrap(gpt2, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["wte"]));
        RandomizeAdapters(peft, 15);
        var layer = (LoraEmbedding)peft.Layers["transformer.wte"];

        Tensor Hidden()
        {
            using var noGrad = no_grad();
            return gpt2.Transformer.forward(ids, useCache: false).LastHiddenState;
        }

        // Unmerged: the adapted lookup feeds the blocks, while the tied head still projects with the base table.
        Tensor hidden = Hidden(), adapted = Logits(gpt2, ids);
        Assert.True(MaxDiff(adapted, nn.functional.linear(hidden, baseWeight)) <= 1e-5);

        // Merged (PEFT's in-place merge into the shared weight): the lookup is unchanged, the head now uses W + ΔW.
        Tensor delta = layer.DeltaWeight("default");
        peft.Merge();
        Assert.True(MaxDiff(gpt2.Transformer.Wte.weight!, baseWeight + delta) <= 1e-6);
        Tensor mergedHidden = Hidden(), merged = Logits(gpt2, ids);
        Assert.True(MaxDiff(hidden, mergedHidden) <= 1e-4);
        Assert.True(MaxDiff(merged, nn.functional.linear(mergedHidden, baseWeight + delta)) <= 1e-4);
        Assert.True(MaxDiff(adapted, merged) > 1e-3, "the tied head should change on merge");

        peft.Unmerge();
        Assert.True(MaxDiff(gpt2.Transformer.Wte.weight!, baseWeight) <= 1e-5);
        Assert.True(MaxDiff(adapted, Logits(gpt2, ids)) <= 1e-5);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Embedding_adapter_matches_a_pytorch_reference()
    {
        Requires.Python("torch");
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory("tessera-lora-emb-");
        var (ids, _) = TinyModels.Inputs(100, 9, 16, 0, 0, 0);
        foreach (CausalLanguageModel model in new CausalLanguageModel[] { Gpt2(17), Llama(18) })
        {
            using var _ = model;
            bool isGpt2 = model is Gpt2LMHeadModel;
            string path = isGpt2 ? "transformer.wte" : "model.embed_tokens", name = isGpt2 ? "gpt2" : "llama";
            string basePath = dir.File($"{name}-base.safetensors"), adapterDir = dir.File($"{name}-adapter");
            string idsPath = dir.File($"{name}-ids.bin"), outPath = dir.File($"{name}-out.bin"), mergedPath = dir.File($"{name}-merged.bin");
            SafeTensorsTorch.Save(basePath, model.state_dict());
            var peft = LoraModel.Wrap(model, new LoraConfig(R: 4, Alpha: 12, TargetModules: [isGpt2 ? "wte" : "embed_tokens"]) { UseRslora = !isGpt2 });
            RandomizeAdapters(peft, 19);
            peft.SavePretrained(adapterDir);
            ReferencePython.WriteLongs(idsPath, ids.data<long>().ToArray());
            string output = RunReference("lora_embedding", basePath, $"{path}.weight", adapterDir, path, idsPath, $"{ids.shape[0]}", $"{ids.shape[1]}", outPath, mergedPath).Trim();
            Assert.Equal(peft.Adapters["default"].Scaling, double.Parse(output.Split(' ')[1], CultureInfo.InvariantCulture), 1e-9);

            var embedding = (nn.Module<Tensor, Tensor>)model.named_modules().Single(m => m.name == path).module;
            Tensor ours;
            using (no_grad()) ours = embedding.call(ids);
            Tensor expected = tensor(ReferencePython.ReadFloats(outPath)).reshape(ours.shape);
            Assert.True(MaxDiff(ours, expected) <= 1e-5, $"{name}: lookup differs by {MaxDiff(ours, expected)}");

            peft.MergeAndUnload();
            Tensor expectedMerged = tensor(ReferencePython.ReadFloats(mergedPath)).reshape(model.state_dict()[$"{path}.weight"].shape);
            Assert.True(MaxDiff(model.state_dict()[$"{path}.weight"], expectedMerged) <= 1e-5, $"{name}: merged table differs");
        }
    }

    [Fact]
    public void A_target_that_is_neither_linear_nor_embedding_is_refused()
    {
        using var gpt2 = Gpt2(20);
        var e = Assert.Throws<NotSupportedException>(() => LoraModel.Wrap(gpt2, new LoraConfig(R: 2, Alpha: 2, TargetModules: ["ln_f"])));
        Assert.Contains("Linear, Conv1D and Embedding", e.Message, StringComparison.Ordinal);
    }
}
