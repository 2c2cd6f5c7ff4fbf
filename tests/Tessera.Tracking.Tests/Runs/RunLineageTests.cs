using Tessera.Tests.Shared;
using Tessera.Tracking.Runs;

namespace Tessera.Tracking.Tests.Runs;

public sealed class RunLineageTests : IDisposable
{
    readonly TempDirectory _temp = new("tessera-lineage-");

    public void Dispose() => _temp.Dispose();

    string Folder(string name, string content)
    {
        string dir = _temp.File(name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), content);
        return dir;
    }

    [Fact]
    public void Chain_goes_from_a_quantized_folder_back_to_training_data_and_base_model()
    {
        using var store = RunStore.Open(_temp.File("runs.db"));
        string data = Folder("data", "images");
        string hubBase = Folder("hub-base", "pretrained"); // made outside Tessera: no run produced it
        string trained = Folder("trained", "weights-1");
        string quantized = Folder("quantized", "int8");

        string trainId, quantizeId;
        using (var train = store.StartRun(new RunStartOptions { Name = "train" }))
        {
            trainId = train.Id;
            train.LogParams([new("model", hubBase), new("out", trained)]);
            train.LogDataset(DatasetInfo.FromPath("fashion-mnist", data));
            train.LogArtifact(trained, ArtifactKind.ModelFolder);
        }
        using (var quantize = store.StartRun(new RunStartOptions { Name = "quantize" }))
        {
            quantizeId = quantize.Id;
            quantize.LogParams([new("model", trained)]);
            quantize.LogArtifact(quantized, ArtifactKind.Onnx);
        }

        var chain = RunLineage.Trace(store, quantized);
        Assert.Equal([quantizeId, trainId], chain.Select(s => s.Run.Id).ToArray());
        Assert.Equal([0, 1], chain.Select(s => s.Depth).ToArray());
        Assert.Equal((trained, (string?)trainId), Assert.Single(chain[0].Inputs));
        Assert.Equal((hubBase, (string?)null), Assert.Single(chain[1].Inputs));
        var dataset = Assert.Single(chain[1].Datasets);
        Assert.Equal(ContentFingerprint.Compute(data).Sha256, dataset.Sha256);
        Assert.Equal(quantized, Assert.Single(chain[0].Artifacts).Path);

        // By run id (prefix) the same chain; a copied artifact is found by content hash.
        Assert.Equal(chain.Select(s => s.Run.Id), RunLineage.Trace(store, quantizeId[..8]).Select(s => s.Run.Id));
        string copy = _temp.File("copy");
        Directory.CreateDirectory(copy);
        File.Copy(Path.Combine(quantized, "config.json"), Path.Combine(copy, "config.json"));
        Assert.Equal(quantizeId, RunLineage.Trace(store, copy)[0].Run.Id);
    }

    [Fact]
    public void An_artifact_no_run_recorded_is_an_error_naming_the_path()
    {
        using var store = RunStore.Open(_temp.File("runs.db"));
        string stray = Folder("stray", "x");
        var e = Assert.Throws<TrackingException>(() => RunLineage.Trace(store, stray));
        Assert.Contains(stray, e.Message);
    }
}
