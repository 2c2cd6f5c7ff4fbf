using Tessera.Adapters;
using Tessera.Checkpoints;
using Tessera.Tests.Fixtures;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Tests.Adapters;

/// <summary>
/// Parity with the real <c>peft</c> (0.21, see Fixtures/hf/versions.json): adapters written by PEFT's
/// <c>save_pretrained</c> (its own key names, adapter_config.json with every field PEFT writes) are loaded onto the
/// transformers-written base model; logits with the adapter and after <see cref="LoraModel.MergeAndUnload"/> must match
/// what PEFT computed within <see cref="Tolerance"/> on every real token.
/// </summary>
public class PeftFixtureParityTests(ITestOutputHelper output)
{
    const double Tolerance = 1e-4;

    public static TheoryData<string, string> AdapterFixtures => new()
    {
        { "llama-lora-qv", "llama-gqa-llama3" },        // q_proj, v_proj; r=4, alpha=8; B non-zero
        { "llama-lora-embed-mts", "llama-gqa-llama3" }, // embed_tokens (Embedding) + o_proj, lm_head in modules_to_save
        { "gpt2-lora-rslora", "gpt2" },                 // Conv1D c_attn/c_proj, fan_in_fan_out, use_rslora
    };

    [Theory]
    [MemberData(nameof(AdapterFixtures))]
    public void Adapter_and_merged_logits_match_peft(string adapter, string baseModel)
    {
        using var scope = NewDisposeScope();
        var reference = HfFixtures.Reference(adapter);
        Tensor ids = reference["input_ids"], mask = reference["attention_mask"];
        using CausalLanguageModel model = AutoModelForCausalLM.FromPretrained(HfFixtures.Folder(baseModel));

        double Check(string stage, string key)
        {
            Tensor logits;
            using (no_grad()) logits = model.forward(ids, mask, useCache: false).Logits;
            double error = HfFixtures.MaxAbsDifference(reference[key], logits, mask);
            output.WriteLine($"{adapter} {stage}: max abs logit difference {error:g3}");
            Assert.True(error <= Tolerance, $"{adapter} {stage}: max abs logit difference {error:g3} > {Tolerance:g}");
            return error;
        }

        Check("base", "logits_base");
        LoraModel peft = LoraModel.FromPretrained(model, HfFixtures.Folder(adapter));
        Check("adapter", "logits_adapter");
        Assert.Same(model, peft.MergeAndUnload());
        Assert.DoesNotContain(model.state_dict().Keys, k => k.Contains("lora_", StringComparison.Ordinal) || k.Contains("modules_to_save", StringComparison.Ordinal));
        Check("merged", "logits_merged");
    }

    [Theory]
    [MemberData(nameof(AdapterFixtures))]
    public void Tessera_names_the_adapter_tensors_as_peft_saved_them(string adapter, string baseModel)
    {
        using var scope = NewDisposeScope();
        using CausalLanguageModel model = AutoModelForCausalLM.FromPretrained(HfFixtures.Folder(baseModel));
        LoraModel peft = LoraModel.FromPretrained(model, HfFixtures.Folder(adapter));
        var ours = peft.AdapterStateDict().Keys.ToHashSet();
        var theirs = SafeTensorsTorch.Load(Path.Combine(HfFixtures.Folder(adapter), LoraModel.WeightsFileName)).Keys.ToHashSet();
        // PEFT also saves the base weight of a targeted embedding ("save_embedding_layers"); Tessera reads it but does not write it.
        Assert.Equal(theirs.Where(k => !k.EndsWith(".base_layer.weight", StringComparison.Ordinal)).Order(), ours.Order());
    }

    [Fact]
    public void Peft_adapter_configs_are_read_with_their_settings()
    {
        LoraConfig qv = LoraConfig.Load(HfFixtures.Folder("llama-lora-qv"));
        Assert.Equal((4, 8.0, 2.0, false), (qv.R, qv.Alpha, qv.Scaling, qv.InitLoraWeights));
        Assert.Equal(["q_proj", "v_proj"], qv.TargetModules!.Order());
        Assert.Equal("CAUSAL_LM", qv.TaskType);
        Assert.Equal("llama-gqa-llama3", qv.BaseModelNameOrPath);

        LoraConfig mts = LoraConfig.Load(HfFixtures.Folder("llama-lora-embed-mts"));
        Assert.Equal(["lm_head"], mts.ModulesToSave);
        Assert.Equal(["embed_tokens", "o_proj"], mts.TargetModules!.Order());

        LoraConfig rs = LoraConfig.Load(HfFixtures.Folder("gpt2-lora-rslora"));
        Assert.True(rs.UseRslora);
        Assert.True(rs.FanInFanOut);
        Assert.Equal(8 / Math.Sqrt(4), rs.Scaling, 12);
    }
}
