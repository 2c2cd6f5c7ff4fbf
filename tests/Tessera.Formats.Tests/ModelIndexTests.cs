namespace Tessera.Formats.Tests;

/// <summary>The shared model-index builder: the Hub's structure, optional dataset fields, and refused input.</summary>
public class ModelIndexTests
{
    [Fact]
    public void Builds_the_hubs_structure_and_renders_like_a_cards_front_matter()
    {
        var index = ModelIndex.Build("tiny-lm", new ModelIndexResult("text-generation", "Text Generation", "org/data", "data",
            [new ModelIndexMetric("loss", 2.5, "Validation loss")]) { Split = "validation", Revision = "abc123" });
        var card = new ModelCard { Title = "t" };
        card.FrontMatter["model-index"] = index;
        string expected = """
            ---
            library_name: tessera
            model-index:
            - name: tiny-lm
              results:
              - task:
                  type: text-generation
                  name: Text Generation
                dataset:
                  type: org/data
                  name: data
                  split: validation
                  revision: abc123
                metrics:
                - type: loss
                  value: 2.5
                  name: Validation loss
            ---

            """.Replace("\r\n", "\n");
        Assert.Equal(expected, ModelIndex.RenderFrontMatter(card.FrontMatter));
        Assert.StartsWith(expected, card.ToMarkdown());

        // Without split and revision the dataset has only its type and name.
        var plain = ModelIndex.Build("m", new ModelIndexResult("t", "T", "d", "D", [new ModelIndexMetric("acc", 1, "A")]));
        var dataset = (System.Collections.IDictionary)((System.Collections.IDictionary)((List<object?>)((System.Collections.IDictionary)plain[0]!)["results"]!)[0]!)["dataset"]!;
        Assert.Equal(["type", "name"], dataset.Keys.Cast<string>());
    }

    [Fact]
    public void No_results_no_metrics_or_a_non_finite_value_is_refused_naming_it()
    {
        Assert.Throws<ArgumentException>(() => ModelIndex.Build("m"));
        var e = Assert.Throws<ArgumentException>(() => ModelIndex.Build("m", new ModelIndexResult("text-generation", "T", "d", "D", [])));
        Assert.Contains("text-generation", e.Message);
        e = Assert.Throws<ArgumentException>(() => ModelIndex.Build("m", new ModelIndexResult("t", "T", "d", "D", [new ModelIndexMetric("perplexity", double.NaN, "P")])));
        Assert.Contains("perplexity", e.Message);
    }
}
