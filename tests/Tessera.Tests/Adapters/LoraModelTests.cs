using System.Globalization;
using System.Text.Json;
using Tessera.Adapters;
using Tessera.Checkpoints;
using Tessera.Formats;
using Tessera.Tests.Shared;
using Tessera.Tests.Transformers;
using Tessera.Transformers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static Tessera.Tests.Adapters.LoraTestModels;

namespace Tessera.Tests.Adapters;

public class LoraModelTests
{
    /// <summary>Gives every B random values, so the adapter changes the model (B starts at zero).</summary>
    static void RandomizeB(LoraModel peft, int seed)
    {
        var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (LoraLinear layer in peft.Layers.Values)
            foreach (string a in layer.Adapters) layer.LoraB(a).copy_(randn(layer.LoraB(a).shape, generator: generator) * 0.1);
    }

    [Fact]
    public void Wrapped_model_equals_the_base_at_step_0_for_gpt2_and_llama()
    {
        using var scope = NewDisposeScope();
        var (ids, _) = TinyModels.Inputs(100, 12, 1, 0, 0);
        using var gpt2 = Gpt2(1);
        Tensor before = Logits(gpt2, ids);
        var peft = LoraModel.Wrap(gpt2, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["c_attn", "c_proj", "c_fc"]));
        Assert.Equal(8, peft.Layers.Count); // per block: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj
        Assert.True(peft.Adapters["default"].FanInFanOut);
        Assert.True(MaxDiff(before, Logits(gpt2, ids)) <= 1e-6);

        using var llama = Llama(2);
        before = Logits(llama, ids);
        peft = LoraModel.Wrap(llama, new LoraConfig(R: 4, Alpha: 16, TargetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]) { Dropout = 0.1 });
        Assert.Equal(14, peft.Layers.Count);
        Assert.False(peft.Adapters["default"].FanInFanOut);
        Assert.True(MaxDiff(before, Logits(llama, ids)) <= 1e-6);
        Assert.Equal(4.0, peft.Adapters["default"].Scaling);
        Assert.Equal(8.0, (peft.Adapters["default"] with { UseRslora = true }).Scaling);
    }

    [Fact]
    public void Training_changes_only_lora_parameters()
    {
        using var scope = NewDisposeScope();
        using var llama = Llama(3);
        var before = Snapshot(llama);
        var peft = LoraModel.Wrap(llama, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["q_proj", "v_proj"]));
        var (trainable, total) = peft.ParameterCounts();
        // q_proj: A [4, 32] + B [32, 4]; v_proj: A [4, 32] + B [16, 4] (2 kv heads of 8), in 2 layers.
        Assert.Equal(2 * (4 * 32 + 32 * 4 + 4 * 32 + 16 * 4), trainable);
        Assert.Equal(before.Values.Sum(t => t.numel()) + trainable, total);
        Assert.Contains("trainable params: ", peft.TrainableParametersSummary(), StringComparison.Ordinal);

        llama.train();
        // All parameters go to the optimizer, as CausalLMModule does: frozen ones must get no gradient, so no update (weight decay included).
        using var optimizer = optim.AdamW(llama.parameters(), 1e-2, weight_decay: 0.1);
        var (ids, _) = TinyModels.Inputs(100, 10, 4, 0, 0);
        for (int step = 0; step < 3; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            Tensor loss = CausalLanguageModel.CausalLMLoss(llama.forward(ids, useCache: false).Logits, ids);
            loss.backward();
            optimizer.step();
        }
        foreach (var (name, p) in llama.named_parameters())
        {
            bool isLora = name.Contains(".lora_", StringComparison.Ordinal);
            Assert.Equal(isLora, p.requires_grad);
            if (!isLora)
            {
                Assert.True(p.grad is null, name);
                Assert.Equal(0.0, MaxDiff(p, before[name]));
            }
            else if (name.Contains("lora_B", StringComparison.Ordinal))
                Assert.True(p.abs().max().item<float>() > 0, $"{name} did not change");
        }
        Assert.Contains("model.layers.0.self_attn.q_proj.lora_A.default.weight", llama.state_dict().Keys);
    }

    [Fact]
    public void Merge_matches_unmerged_logits_and_unmerge_restores_the_base()
    {
        using var scope = NewDisposeScope();
        var (ids, _) = TinyModels.Inputs(100, 12, 5, 0, 0);
        foreach (CausalLanguageModel model in new CausalLanguageModel[] { Gpt2(5), Llama(6) })
        {
            using var _ = model;
            var before = Snapshot(model);
            var peft = LoraModel.Wrap(model, new LoraConfig(R: 4, Alpha: 8, TargetModules: model is Gpt2LMHeadModel ? ["c_attn", "c_fc"] : ["q_proj", "down_proj"]));
            RandomizeB(peft, 7);
            Tensor adapted = Logits(model, ids);
            Assert.True(MaxDiff(adapted, Logits(model, ids)) == 0);
            peft.Merge();
            Tensor merged = Logits(model, ids);
            Assert.True(MaxDiff(adapted, merged) <= 1e-4, $"merged differs by {MaxDiff(adapted, merged)}");
            peft.Unmerge();
            foreach (var (name, t) in before)
                Assert.True(MaxDiff(model.state_dict()[name], t) <= 1e-5, name);
            Assert.True(MaxDiff(adapted, Logits(model, ids)) <= 1e-5);
        }
    }

    [Fact]
    public void Save_and_load_round_trip_with_peft_key_names()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory("tessera-lora-");
        var (ids, _) = TinyModels.Inputs(100, 12, 8, 0, 0);

        using var gpt2 = Gpt2(9);
        var peft = LoraModel.Wrap(gpt2, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["c_attn"]) { BaseModelNameOrPath = "tiny-gpt2", TaskType = "CAUSAL_LM" });
        RandomizeB(peft, 10);
        Tensor expected = Logits(gpt2, ids);
        peft.SavePretrained(dir.Path);
        var keys = SafeTensorsTorch.Load(Path.Combine(dir.Path, "adapter_model.safetensors")).Keys.Order(StringComparer.Ordinal).ToList();
        Assert.Equal(
            ["base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight",
             "base_model.model.transformer.h.1.attn.c_attn.lora_A.weight", "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight"],
            keys);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "adapter_config.json")));
        JsonElement root = json.RootElement;
        Assert.Equal("LORA", root.GetProperty("peft_type").GetString());
        Assert.Equal(4, root.GetProperty("r").GetInt32());
        Assert.Equal(8, root.GetProperty("lora_alpha").GetInt32());
        Assert.Equal(0.0, root.GetProperty("lora_dropout").GetDouble());
        Assert.Equal(["c_attn"], root.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("none", root.GetProperty("bias").GetString());
        Assert.True(root.GetProperty("fan_in_fan_out").GetBoolean());
        Assert.False(root.GetProperty("use_rslora").GetBoolean());
        Assert.True(root.GetProperty("init_lora_weights").GetBoolean());
        Assert.True(root.GetProperty("inference_mode").GetBoolean());
        Assert.Equal("tiny-gpt2", root.GetProperty("base_model_name_or_path").GetString());
        Assert.Equal("CAUSAL_LM", root.GetProperty("task_type").GetString());

        using var fresh = Gpt2(9);
        var loaded = LoraModel.FromPretrained(fresh, dir.Path);
        Assert.Equal(0.0, MaxDiff(expected, Logits(fresh, ids)));
        Assert.Equal(0, loaded.ParameterCounts().Trainable);

        using var llama = Llama(11);
        LoraModel.Wrap(llama, new LoraConfig(R: 2, Alpha: 4, TargetModules: ["q_proj", "v_proj"])).SavePretrained(dir.File("llama"));
        var llamaKeys = SafeTensorsTorch.Load(Path.Combine(dir.File("llama"), "adapter_model.safetensors")).Keys.ToHashSet();
        Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", llamaKeys);
        Assert.Contains("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", llamaKeys);
        Assert.Equal(8, llamaKeys.Count);
    }

    [Fact]
    public void All_linear_targets_every_projection_but_the_head()
    {
        random.manual_seed(31);
        using var bert = new BertForSequenceClassification(TinyModels.Bert());
        var peft = LoraModel.Wrap(bert, new LoraConfig(R: 2, Alpha: 2) { TargetModulesRegex = LoraModel.AllLinear });
        Assert.DoesNotContain("classifier", peft.Layers.Keys);
        Assert.Contains("bert.encoder.layer.1.attention.self.query", peft.Layers.Keys);
        Assert.Contains("bert.pooler.dense", peft.Layers.Keys);
    }

    [Fact]
    public void Regex_targets_match_full_paths()
    {
        using var llama = Llama(12);
        var peft = LoraModel.Wrap(llama, new LoraConfig(R: 2, Alpha: 2) { TargetModulesRegex = @"model\.layers\.1\.self_attn\.(q|k)_proj" });
        Assert.Equal(["model.layers.1.self_attn.k_proj", "model.layers.1.self_attn.q_proj"], peft.Layers.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Named_adapters_can_be_added_switched_disabled_and_deleted()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory("tessera-lora-");
        var (ids, _) = TinyModels.Inputs(100, 12, 13, 0, 0);
        using var llama = Llama(14);
        Tensor baseLogits = Logits(llama, ids);
        var peft = LoraModel.Wrap(llama, new LoraConfig(R: 2, Alpha: 4, TargetModules: ["q_proj", "v_proj"]), "first");
        RandomizeB(peft, 15);
        Tensor first = Logits(llama, ids);
        peft.SavePretrained(dir.Path);

        peft.AddAdapter("second", new LoraConfig(R: 4, Alpha: 4, TargetModules: ["o_proj"]));
        Assert.Equal("second", peft.ActiveAdapter);
        using (no_grad())
            foreach (LoraLinear layer in peft.Layers.Values)
                if (layer.Adapters.Contains("second")) layer.LoraB("second").fill_(0.05);
        Tensor second = Logits(llama, ids);
        Assert.True(MaxDiff(first, second) > 1e-3);
        Assert.True(MaxDiff(baseLogits, second) > 1e-3);

        peft.SetActiveAdapter("first");
        Assert.Equal(0.0, MaxDiff(first, Logits(llama, ids)));
        peft.DisableAdapters();
        Assert.Equal(0.0, MaxDiff(baseLogits, Logits(llama, ids)));
        peft.EnableAdapters();
        Assert.Equal(0.0, MaxDiff(first, Logits(llama, ids)));

        peft.DeleteAdapter("first");
        Assert.Equal("second", peft.ActiveAdapter);
        Assert.Equal(0.0, MaxDiff(second, Logits(llama, ids)));
        Assert.DoesNotContain(llama.state_dict().Keys, k => k.Contains(".first.", StringComparison.Ordinal));

        peft.LoadAdapter(dir.Path, "again");
        Assert.Equal("second", peft.ActiveAdapter);
        peft.SetActiveAdapter("again");
        Assert.True(MaxDiff(first, Logits(llama, ids)) <= 1e-6);
        Assert.Throws<ArgumentException>(() => peft.SetActiveAdapter("missing"));
    }

    [Fact]
    public void Modules_to_save_train_a_copy_of_the_classifier_and_save_with_peft_keys()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory("tessera-lora-");
        random.manual_seed(16);
        using var bert = new BertForSequenceClassification(TinyModels.Bert());
        bert.eval();
        var (ids, _) = TinyModels.Inputs(100, 8, 17, 0, 0);
        Tensor baseScores;
        using (no_grad()) baseScores = bert.forward(ids);
        var original = Snapshot(bert);
        var peft = LoraModel.Wrap(bert, new LoraConfig(R: 2, Alpha: 4, TargetModules: ["query", "value"]) { ModulesToSave = ["classifier"], TaskType = "SEQ_CLS" });
        Assert.Contains(bert.named_parameters(), p => p.name == "classifier.modules_to_save.default.weight" && p.parameter.requires_grad);
        Assert.Contains(bert.named_parameters(), p => p.name == "classifier.weight" && !p.parameter.requires_grad);
        using (no_grad()) Assert.Equal(0.0, MaxDiff(baseScores, bert.forward(ids)));

        using (no_grad())
            foreach (var (name, p) in bert.named_parameters())
                if (name.StartsWith("classifier.modules_to_save", StringComparison.Ordinal)) p.add_(0.5);
        Tensor adapted;
        using (no_grad()) adapted = bert.forward(ids);
        Assert.True(MaxDiff(baseScores, adapted) > 0.1);
        Assert.Equal(0.0, MaxDiff(original["classifier.weight"], bert.state_dict()["classifier.weight"]));

        peft.SavePretrained(dir.Path);
        var keys = SafeTensorsTorch.Load(Path.Combine(dir.Path, "adapter_model.safetensors")).Keys.ToHashSet();
        Assert.Contains("base_model.model.classifier.weight", keys);
        Assert.Contains("base_model.model.classifier.bias", keys);
        Assert.Contains("base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight", keys);

        random.manual_seed(16);
        using var fresh = new BertForSequenceClassification(TinyModels.Bert());
        fresh.eval();
        LoraModel.FromPretrained(fresh, dir.Path);
        using (no_grad()) Assert.Equal(0.0, MaxDiff(adapted, fresh.forward(ids)));

        var plain = (BertForSequenceClassification)peft.MergeAndUnload();
        Assert.Equal(original.Keys.Order(StringComparer.Ordinal), plain.state_dict().Keys.Order(StringComparer.Ordinal));
        using (no_grad()) Assert.True(MaxDiff(adapted, plain.forward(ids)) <= 1e-5);
    }

    [Fact]
    public void Merged_model_saves_as_a_plain_model_folder()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory("tessera-lora-");
        var (ids, _) = TinyModels.Inputs(100, 12, 18, 0, 0);
        using var gpt2 = Gpt2(19);
        var peft = LoraModel.Wrap(gpt2, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["c_attn", "c_proj"]));
        RandomizeB(peft, 20);
        Tensor adapted = Logits(gpt2, ids);
        var merged = (Gpt2LMHeadModel)peft.MergeAndUnload();
        Assert.DoesNotContain(merged.state_dict().Keys, k => k.Contains("lora", StringComparison.Ordinal));
        Assert.True(MaxDiff(adapted, Logits(merged, ids)) <= 1e-4);
        merged.SavePretrained(dir.Path);
        using var reloaded = Gpt2LMHeadModel.FromPretrained(dir.Path);
        Assert.True(MaxDiff(adapted, Logits(reloaded, ids)) <= 1e-4);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Merged_weights_match_a_pytorch_reference()
    {
        Requires.Python("torch");
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory("tessera-lora-");
        foreach (CausalLanguageModel model in new CausalLanguageModel[] { Gpt2(21), Llama(22) })
        {
            using var _ = model;
            string name = model is Gpt2LMHeadModel ? "gpt2" : "llama";
            string basePath = dir.File($"{name}-base.safetensors"), adapterDir = dir.File($"{name}-adapter"), mergedPath = dir.File($"{name}-merged.safetensors");
            SafeTensorsTorch.Save(basePath, model.state_dict());
            var peft = LoraModel.Wrap(model, new LoraConfig(R: 4, Alpha: 12, TargetModules: model is Gpt2LMHeadModel ? ["c_attn", "c_fc"] : ["q_proj", "up_proj"]) { UseRslora = name == "llama" });
            RandomizeB(peft, 23);
            peft.SavePretrained(adapterDir);
            nn.Module merged = peft.MergeAndUnload();
            SafeTensorsTorch.Save(mergedPath, merged.state_dict());
            string output = RunReference("lora_merge", basePath, adapterDir, mergedPath).Trim();
            string[] parts = output.Split(' ');
            Assert.Equal(4, int.Parse(parts[0], CultureInfo.InvariantCulture));
            Assert.True(double.Parse(parts[1], CultureInfo.InvariantCulture) <= 1e-5, $"{name}: {output}");
        }
    }

    [Fact]
    public void Targets_that_match_nothing_list_similar_names()
    {
        using var llama = Llama(24);
        var e = Assert.Throws<ArgumentException>(() => LoraModel.Wrap(llama, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["q_prj", "v_proj_x"])));
        Assert.Contains("matches no module", e.Message, StringComparison.Ordinal);
        Assert.Contains("q_proj", e.Message, StringComparison.Ordinal);
        Assert.Contains("v_proj", e.Message, StringComparison.Ordinal);
        Assert.All(llama.parameters(), p => Assert.True(p.requires_grad));
        Assert.DoesNotContain(llama.state_dict().Keys, k => k.Contains("lora", StringComparison.Ordinal));
    }

    [Fact]
    public void Loading_onto_a_base_with_other_shapes_names_the_tensor_and_shapes()
    {
        using var dir = new TempDirectory("tessera-lora-");
        using var llama = Llama(25);
        LoraModel.Wrap(llama, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["q_proj"])).SavePretrained(dir.Path);
        random.manual_seed(26);
        using var wider = new LlamaForCausalLM(TinyModels.Llama() with { HiddenSize = 48, NumAttentionHeads = 4 });
        var e = Assert.Throws<TesseraFormatException>(() => LoraModel.FromPretrained(wider, dir.Path));
        Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", e.Message, StringComparison.Ordinal);
        Assert.Contains("[4, 32]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[4, 48]", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(wider.state_dict().Keys, k => k.Contains("lora", StringComparison.Ordinal));
        Assert.All(wider.parameters(), p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void Dropout_acts_on_the_lora_input_only_in_training_mode()
    {
        using var scope = NewDisposeScope();
        var (ids, _) = TinyModels.Inputs(100, 12, 28, 0, 0);
        using var llama = Llama(29);
        var peft = LoraModel.Wrap(llama, new LoraConfig(R: 4, Alpha: 8, TargetModules: ["q_proj", "v_proj"]) { Dropout = 0.5 });
        RandomizeB(peft, 30);
        Tensor eval1 = Logits(llama, ids), eval2 = Logits(llama, ids);
        Assert.Equal(0.0, MaxDiff(eval1, eval2));
        llama.train();
        Tensor train1 = Logits(llama, ids), train2 = Logits(llama, ids);
        Assert.True(MaxDiff(train1, train2) > 1e-4);
        peft.DisableAdapters();
        Assert.Equal(0.0, MaxDiff(Logits(llama, ids), Logits(llama, ids))); // the tiny Llama itself has no dropout
    }

    [Theory]
    [InlineData(0, 8)]
    [InlineData(-2, 8)]
    [InlineData(8, 0)]
    [InlineData(8, -1)]
    public void Rank_or_alpha_not_positive_is_a_clear_error(int r, double alpha)
    {
        using var llama = Llama(27);
        var e = Assert.Throws<ArgumentException>(() => LoraModel.Wrap(llama, new LoraConfig(R: r, Alpha: alpha, TargetModules: ["q_proj"])));
        Assert.Contains(r <= 0 ? "rank r must be a positive integer" : "lora_alpha must be a positive number", e.Message, StringComparison.Ordinal);
    }
}
