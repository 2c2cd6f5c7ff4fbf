using Tessera.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Fixtures;

/// <summary>
/// The fixtures of Fixtures/hf/: folders written by the real <c>transformers</c> 5.17 / <c>peft</c> 0.21
/// <c>save_pretrained</c>, each with <c>reference.safetensors</c> holding the inputs and the outputs transformers
/// computed (float32 on the CPU, eager attention). Fixtures/hf/make_hf_fixtures.py made them; versions.json says with what.
/// </summary>
static class HfFixtures
{
    /// <summary>The fixture folder <paramref name="name"/> in the test output directory.</summary>
    public static string Folder(string name)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "hf", name);
        Assert.True(Directory.Exists(folder), $"fixture folder {folder} is missing (copied by Tessera.Tests.csproj)");
        return folder;
    }

    /// <summary>The tensors of the fixture's reference.safetensors (input ids, masks, logits, sequences), by name.</summary>
    public static Dictionary<string, Tensor> Reference(string name) => SafeTensorsTorch.Load(Path.Combine(Folder(name), "reference.safetensors"));

    /// <summary>
    /// Max |expected - actual| over the positions where <paramref name="mask"/> [b, s] is 1 (all positions when null);
    /// <paramref name="expected"/> and <paramref name="actual"/> are [b, s, ...] or [b, ...]. Fails if transformers'
    /// output is ~0, where agreement would prove nothing.
    /// </summary>
    public static double MaxAbsDifference(Tensor expected, Tensor actual, Tensor? mask = null)
    {
        using var scope = NewDisposeScope();
        Assert.Equal(expected.shape, actual.shape);
        Tensor e = expected.to_type(ScalarType.Float64), a = actual.detach().cpu().to_type(ScalarType.Float64);
        Tensor diff = (e - a).abs();
        Tensor scale = e.abs();
        if (mask is not null)
        {
            Tensor padding = mask.eq(0).view(mask.shape[0], mask.shape[1], 1);
            diff = diff.masked_fill(padding, 0);
            scale = scale.masked_fill(padding, 0);
        }
        Assert.True(scale.max().item<double>() > 1e-2, "the reference output is ~0: the comparison would prove nothing");
        return diff.max().item<double>();
    }

    /// <summary>Row <paramref name="row"/> of int64 tensor <paramref name="t"/> as ints, from column <paramref name="from"/> on.</summary>
    public static int[] Row(Tensor t, int row, long from = 0) =>
        [.. t[row].narrow(0, from, t.shape[1] - from).data<long>().Select(x => checked((int)x))];
}
