using Tessera.Data;
using static TorchSharp.torch;

namespace Tessera.Tests.Data;

public class PromptCompletionDatasetTests
{
    [Fact]
    public void Batches_pad_right_and_score_only_completion_tokens()
    {
        var dataset = new PromptCompletionDataset(
        [
            ([1, 2, 3], [4, 5]),
            ([6], [7, 8, 9, 10, 11, 12]),   // cut to 5 tokens
            ([1, 2, 3, 4, 5, 6], [7]),      // completion cut away entirely: dropped
        ], maxLength: 5, padId: 99);
        Assert.Equal(2, dataset.Count);
        using Batch batch = dataset.GetBatch([0, 1]);
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, batch.Inputs.data<long>().ToArray());
        Assert.Equal(new long[] { -100, -100, -100, 4, 5, -100, 7, 8, 9, 10 }, batch.Targets.data<long>().ToArray());

        using Batch single = dataset.GetBatch([0]);
        Assert.Equal([1L, 5], single.Inputs.shape);
        Assert.Throws<ArgumentOutOfRangeException>(() => dataset.GetBatch([2]));
    }

    [Fact]
    public void Shorter_rows_are_padded_with_the_pad_id_and_ignored()
    {
        var dataset = new PromptCompletionDataset([([1], [2]), ([3], [4, 5, 6])], maxLength: 8, padId: 0);
        using Batch batch = dataset.GetBatch([0, 1]);
        Assert.Equal(new long[] { 1, 2, 0, 0, 3, 4, 5, 6 }, batch.Inputs.data<long>().ToArray());
        Assert.Equal(new long[] { -100, 2, -100, -100, -100, 4, 5, 6 }, batch.Targets.data<long>().ToArray());
    }
}
