using Tessera.Hub.Datasets;

namespace Tessera.Hub.Tests.Datasets;

/// <summary>Split names from file layouts, as the Hub documents them (hub-docs: datasets-file-names-and-splits).</summary>
public sealed class SplitDiscoveryTests
{
    static Dictionary<string, string[]> Discover(params string[] files) =>
        SplitDiscovery.Discover(files).ToDictionary(s => s.Split, s => s.Files.ToArray());

    [Fact]
    public void Sharded_data_files_give_any_split_name()
    {
        var splits = Discover("README.md", "data/train-00001-of-00002.parquet", "data/train-00000-of-00002.parquet",
            "data/test-00000-of-00001.parquet", "data/random-00000-of-00001.parquet", "extra/train.csv");
        Assert.Equal(["train", "test", "random"], splits.Keys);
        Assert.Equal(["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"], splits["train"]);
        Assert.Equal(["data/random-00000-of-00001.parquet"], splits["random"]);
    }

    [Fact]
    public void Split_keywords_in_file_names_need_non_word_delimiters()
    {
        var splits = Discover("train.csv", "my_train_file.csv", "train1.csv", "validation.jsonl", "dev-2.csv", "eval.parquet", "trainer.csv", "data.csv");
        Assert.Equal(["train", "validation", "test"], splits.Keys);
        Assert.Equal(["my_train_file.csv", "train.csv", "train1.csv"], splits["train"]);
        Assert.Equal(["dev-2.csv", "validation.jsonl"], splits["validation"]);
        Assert.Equal(["eval.parquet"], splits["test"]);
    }

    [Fact]
    public void Split_keywords_in_folder_names_win_over_file_names()
    {
        var splits = Discover("data/train/shard_0.parquet", "data/train/shard_1.parquet", "data/test/test_0.parquet", "data/valid/x.jsonl");
        Assert.Equal(["train", "validation", "test"], splits.Keys);
        Assert.Equal(["data/train/shard_0.parquet", "data/train/shard_1.parquet"], splits["train"]);
        Assert.Equal(["data/test/test_0.parquet"], splits["test"]);
    }

    [Fact]
    public void Files_without_split_names_are_all_train()
    {
        var splits = Discover("data.csv", "more/part-1.parquet");
        Assert.Equal(["train"], splits.Keys);
        Assert.Equal(["data.csv", "more/part-1.parquet"], splits["train"]);
    }
}
