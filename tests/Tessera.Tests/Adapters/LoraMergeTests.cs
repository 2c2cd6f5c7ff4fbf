using Tessera.Adapters;
using Tessera.Formats;
using Tessera.Tests.Shared;

namespace Tessera.Tests.Adapters;

/// <summary><see cref="LoraMerge.MergeFolder"/>: the merged folder's model card.</summary>
public class LoraMergeTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-lora-merge-");
    public void Dispose() => temp.Dispose();

    [Fact]
    public void Merge_writes_a_card_for_the_merged_model_not_the_base_card()
    {
        string baseFolder = Path.Combine(temp.Path, "base");
        string adapterFolder = Path.Combine(temp.Path, "adapter");
        string merged = Path.Combine(temp.Path, "merged");
        using (var model = LoraTestModels.Gpt2(3))
        {
            model.SavePretrained(baseFolder);
            var peft = LoraModel.Wrap(model, new LoraConfig(R: 2, Alpha: 4, TargetModules: ["c_attn"]));
            peft.SavePretrained(adapterFolder);
        }
        File.WriteAllText(Path.Combine(baseFolder, "README.md"), "---\nlicense: mit\n---\n\n# The base model\n\nTrained on base data.\n");
        File.WriteAllText(Path.Combine(baseFolder, "tokenizer_config.json"), "{}");

        var (_, layers) = LoraMerge.MergeFolder(baseFolder, adapterFolder, merged);

        Assert.True(File.Exists(Path.Combine(merged, "tokenizer_config.json"))); // the base folder's other files still travel
        string text = File.ReadAllText(Path.Combine(merged, "README.md"));
        Assert.DoesNotContain("Trained on base data", text);
        var card = ModelCard.Load(Path.Combine(merged, "README.md"));
        Assert.Equal(baseFolder, card.FrontMatter["base_model"]);
        Assert.Equal("merge", card.FrontMatter["base_model_relation"]);
        Assert.Contains(adapterFolder, card.Description);
        Assert.Contains($"{layers} layers adapted (`c_attn`), r = 2, lora_alpha = 4", card.Description);
        // The adapter's configuration exactly as adapter_config.json stores it.
        Assert.Contains(File.ReadAllText(Path.Combine(adapterFolder, LoraConfig.FileName)).Trim(), text);
    }
}
