using Tessera.Hub.Datasets;

namespace Tessera.Hub.Tests.Datasets;

/// <summary>Splits from the dataset card's <c>configs:</c> (hub-docs: datasets-manual-configuration).</summary>
public sealed class DatasetCardConfigTests
{
    const string Card = """
        ---
        license: mit
        configs:
        - config_name: default
          data_files:
          - split: train
            path: "sft/*.jsonl"
          - split: test
            path:
            - "held/a.csv"
            - "held/b.csv"
        - config_name: raw
          data_files: "raw/*.jsonl"
        dataset_info:
          features:
          - name: text
            dtype: string
        ---
        # A dataset
        """;

    static TempDirectory Folder()
    {
        var tmp = new TempDirectory("tessera-dscard-");
        foreach (string dir in (string[])["sft", "held", "raw", "data"]) Directory.CreateDirectory(tmp.File(dir));
        File.WriteAllText(tmp.File("sft/part-0.jsonl"), "{\"text\": \"s0\"}\n");
        File.WriteAllText(tmp.File("sft/part-1.jsonl"), "{\"text\": \"s1\"}\n");
        File.WriteAllText(tmp.File("held/a.csv"), "text\nha\n");
        File.WriteAllText(tmp.File("held/b.csv"), "text\nhb\n");
        File.WriteAllText(tmp.File("raw/r.jsonl"), "{\"text\": \"r\"}\n");
        File.WriteAllText(tmp.File("data/train.jsonl"), "{\"text\": \"layout\"}\n"); // what the file layout alone would pick
        return tmp;
    }

    static string[] Texts(DatasetSplit split) => [.. split.ReadRows(new DatasetColumn("text", DatasetColumnType.String)).Select(r => r.GetString("text")!)];

    [Fact]
    public void Card_configs_choose_the_files_of_each_split()
    {
        using var tmp = Folder();
        File.WriteAllText(tmp.File("README.md"), Card);

        var dataset = HubDataset.Open(tmp.Path);
        Assert.Equal("default", dataset.Config);
        Assert.Equal(["train", "test"], dataset.Splits.Select(s => s.Name));
        Assert.Equal(["s0", "s1"], Texts(dataset["train"]));
        Assert.Equal(["ha", "hb"], Texts(dataset["test"]));

        var raw = HubDataset.Open(tmp.Path, config: "raw");
        Assert.Equal(["r"], Texts(raw["train"]));
        var missing = Assert.Throws<KeyNotFoundException>(() => HubDataset.Open(tmp.Path, config: "nope"));
        Assert.Contains("no configuration \"nope\"; the card has: default, raw", missing.Message);
    }

    [Fact]
    public void A_card_without_configs_or_one_that_cannot_be_read_falls_back_to_the_layout()
    {
        using var tmp = Folder();
        File.WriteAllText(tmp.File("README.md"), "---\nlicense: mit\n---\n# no configs\n");
        Assert.Null(HubDataset.Open(tmp.Path).Config);
        Assert.Equal(["layout"], Texts(HubDataset.Open(tmp.Path)["train"]));

        File.WriteAllText(tmp.File("README.md"), "---\nlicense: [unclosed\n\tbad: tab\n---\n");
        Assert.Equal(["layout"], Texts(HubDataset.Open(tmp.Path)["train"]));
    }

    [Fact]
    public void A_split_pattern_that_matches_nothing_is_an_error_naming_the_card()
    {
        using var tmp = Folder();
        File.WriteAllText(tmp.File("README.md"), "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: \"missing/*.parquet\"\n---\n");
        var e = Assert.Throws<Tessera.Formats.TesseraFormatException>(() => HubDataset.Open(tmp.Path));
        Assert.Equal($"{tmp.File("README.md")}: configs: \"default\": split \"train\": no .parquet, .jsonl, .jsonl.gz, .csv or .csv.gz file matches 'missing/*.parquet'", e.Message);
    }
}
