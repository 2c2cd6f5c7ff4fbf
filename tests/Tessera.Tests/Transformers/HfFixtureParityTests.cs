using Tessera.Tests.Fixtures;
using Tessera.Tests.Shared;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Tests.Transformers;

/// <summary>
/// Parity with the real <c>transformers</c> (5.17, see Fixtures/hf/versions.json): each folder was written by its
/// <c>save_pretrained</c> and is loaded here through Tessera's public API; logits must agree within
/// <see cref="Tolerance"/> on every real token, and greedy generation must give exactly the same ids.
/// </summary>
public class HfFixtureParityTests(ITestOutputHelper output)
{
    /// <summary>Max abs logit difference allowed (logits are O(1); transformers' own float32-vs-float64 gap is ~1e-6).</summary>
    const double Tolerance = 1e-4;

    /// <summary>The prompts make_hf_fixtures.py encoded as bytes (ByteVocabulary ids); row 1 is left-padded by 4.</summary>
    static readonly string[] Prompts = ["Hello, world", "Hi there"];

    public static TheoryData<string, Type> CausalFixtures => new()
    {
        { "gpt2", typeof(Gpt2LMHeadModel) },
        { "llama-gqa-llama3", typeof(LlamaForCausalLM) },
        { "qwen2", typeof(LlamaForCausalLM) },
        { "mistral-sliding", typeof(LlamaForCausalLM) },
    };

    public static TheoryData<string, bool> GenerationCases
    {
        get
        {
            var data = new TheoryData<string, bool>();
            foreach (string name in new[] { "gpt2", "llama-gqa-llama3", "qwen2", "mistral-sliding" })
            {
                data.Add(name, true);
                data.Add(name, false);
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(CausalFixtures))]
    public void Causal_lm_logits_match_transformers_with_left_padding(string name, Type modelType)
    {
        using var scope = NewDisposeScope();
        var reference = HfFixtures.Reference(name);
        using CausalLanguageModel model = AutoModelForCausalLM.FromPretrained(HfFixtures.Folder(name));
        Assert.IsType(modelType, model);
        Tensor logits;
        using (no_grad()) logits = model.forward(reference["input_ids"], reference["attention_mask"], useCache: false).Logits;
        double error = HfFixtures.MaxAbsDifference(reference["logits"], logits, reference["attention_mask"]);
        output.WriteLine($"{name}: max abs logit difference {error:g3}");
        Assert.True(error <= Tolerance, $"{name}: max abs logit difference {error:g3} > {Tolerance:g}");
    }

    [Theory]
    [MemberData(nameof(GenerationCases))]
    public void Greedy_generation_gives_the_ids_transformers_generates(string name, bool useCache)
    {
        using var scope = NewDisposeScope();
        var reference = HfFixtures.Reference(name);
        Tensor ids = reference["input_ids"], mask = reference["attention_mask"], sequences = reference["sequences"];
        using CausalLanguageModel model = AutoModelForCausalLM.FromPretrained(HfFixtures.Folder(name));
        using var dir = new TempDirectory("tessera-hf-tok-");
        ByteVocabulary.WriteTokenizerFiles(dir.Path);
        HfTokenizer tokenizer = AutoTokenizer.FromPretrained(dir.Path);

        var results = model.Generate(tokenizer, Prompts, new GenerationConfig { MaxNewTokens = 8, UseCache = useCache });

        long width = ids.shape[1];
        for (int row = 0; row < Prompts.Length; row++)
        {
            long pad = width - mask[row].sum().item<long>();
            Assert.Equal(HfFixtures.Row(ids, row, pad), results[row].PromptIds);
            int[] expected = HfFixtures.Row(sequences, row, width);
            Assert.DoesNotContain(ByteVocabulary.EndOfTextId, expected); // transformers pads after EOS; Tessera stops: not comparable
            Assert.Equal(expected, results[row].TokenIds);
        }
    }

    [Fact]
    public void Transformers_5_rope_parameters_give_the_rope_theta_and_llama3_scaling()
    {
        // transformers 5 writes rope_theta and the scaling inside "rope_parameters" (4.x: top-level rope_theta, rope_scaling).
        var config = (LlamaConfig)AutoConfig.FromPretrained(HfFixtures.Folder("llama-gqa-llama3"));
        Assert.Equal(500_000.0, config.EffectiveRopeTheta);
        Assert.Equal("llama3", config.EffectiveRopeScaling!.Value.GetProperty("rope_type").GetString());
        var qwen = (LlamaConfig)AutoConfig.FromPretrained(HfFixtures.Folder("qwen2"));
        Assert.Equal(1_000_000.0, qwen.EffectiveRopeTheta);
        Assert.Equal(16, config.HeadDim);
        Assert.Equal(2, config.KeyValueHeads);
    }

    [Fact]
    public void A_transformers_5_config_gives_the_frequencies_and_dtype_of_its_4x_form()
    {
        const string common = "\"model_type\":\"llama\",\"vocab_size\":10,\"hidden_size\":32,\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2";
        const string llama3 = "\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":16";
        var v4 = (LlamaConfig)PretrainedConfig.Parse($"{{{common},\"torch_dtype\":\"bfloat16\",\"rope_theta\":500000.0,\"rope_scaling\":{{\"rope_type\":\"llama3\",{llama3}}}}}");
        var v5 = (LlamaConfig)PretrainedConfig.Parse($"{{{common},\"dtype\":\"bfloat16\",\"rope_parameters\":{{\"rope_theta\":500000.0,\"rope_type\":\"llama3\",{llama3}}}}}");
        Assert.Equal(RotaryFrequencies.Compute(v4), RotaryFrequencies.Compute(v5));
        Assert.NotEqual(RotaryFrequencies.Compute(v4), RotaryFrequencies.Compute(v4 with { RopeScaling = null }));
        Assert.Equal("bfloat16", v4.EffectiveDtype);
        Assert.Equal("bfloat16", v5.EffectiveDtype);
        Assert.Contains("\"rope_parameters\"", v5.ToJson()); // kept for the round trip

        var e = Assert.Throws<Tessera.Formats.TesseraFormatException>(() =>
            PretrainedConfig.Parse($"{{{common},\"rope_parameters\":{{\"rope_theta\":10000.0,\"rope_type\":\"yarn\",\"factor\":4.0}}}}"));
        Assert.Contains("rope_parameters", e.Message);
        Assert.Contains("yarn", e.Message);
    }

    [Fact]
    public void Bert_masked_lm_logits_match_transformers()
    {
        using var scope = NewDisposeScope();
        var reference = HfFixtures.Reference("bert-mlm");
        using var model = (BertForMaskedLM)AutoModelForMaskedLM.FromPretrained(HfFixtures.Folder("bert-mlm"));
        Tensor logits;
        using (no_grad()) logits = model.forward(reference["input_ids"], reference["attention_mask"], reference["token_type_ids"]);
        // BERT pads on the right and padding queries see the same keys in both, so every position is compared.
        double error = HfFixtures.MaxAbsDifference(reference["logits"], logits);
        output.WriteLine($"bert-mlm: max abs logit difference {error:g3}");
        Assert.True(error <= Tolerance, $"bert-mlm: max abs logit difference {error:g3} > {Tolerance:g}");
    }

    [Fact]
    public void Bert_sequence_classification_logits_and_labels_match_transformers()
    {
        using var scope = NewDisposeScope();
        var reference = HfFixtures.Reference("bert-cls");
        using var model = (BertForSequenceClassification)AutoModelForSequenceClassification.FromPretrained(HfFixtures.Folder("bert-cls"));
        Assert.Equal(3, model.Config.NumLabels);
        Assert.Equal("positive", model.Config.Id2Label!["2"]);
        Assert.Equal(1, model.Config.Label2Id!["neutral"]);
        Tensor logits;
        using (no_grad()) logits = model.forward(reference["input_ids"], reference["attention_mask"], reference["token_type_ids"]);
        double error = HfFixtures.MaxAbsDifference(reference["logits"], logits);
        output.WriteLine($"bert-cls: max abs logit difference {error:g3}");
        Assert.True(error <= Tolerance, $"bert-cls: max abs logit difference {error:g3} > {Tolerance:g}");
    }
}
