using System.Text.Json.Nodes;
using Tessera.Formats;
using Tessera.Tests.Shared;
using Tessera.Training;
using Tessera.Training.Callbacks;
using Tessera.Training.Loggers;

namespace Tessera.Tests.Training;

/// <summary>Resuming from checkpoints a user copied, moved or edited: nothing outside the run is touched, bad state is named.</summary>
public class CheckpointSafetyTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-ckpt-safety-");
    public void Dispose() => temp.Dispose();

    private static TrainerOptions Quiet(int epochs, params Callback[] callbacks) => new() { MaxEpochs = epochs, Seed = 3, Threads = 1, Callbacks = callbacks };

    /// <summary>Trains <paramref name="epochs"/> epochs into <c>run/checkpoints</c> keeping the best by val_loss; returns the checkpoints folder.</summary>
    private string Train(string run, int epochs, string? resumeFrom = null, IMetricsLogger? logger = null)
    {
        string checkpoints = Path.Combine(run, "checkpoints");
        using var module = new TinyClassifier(5);
        var options = Quiet(epochs, new ModelCheckpoint(checkpoints, monitor: "val_loss", saveTopK: 1));
        if (logger is not null) options = options with { Loggers = [logger] };
        new Trainer(options).Fit(module, new ListLoader(48, 16, true), new ListLoader(16, 16, false), resumeFrom);
        return checkpoints;
    }

    private static JsonObject ReadState(string checkpoint) => JsonNode.Parse(File.ReadAllText(Path.Combine(checkpoint, TrainerCheckpoint.StateFile)))!.AsObject();

    private static void WriteState(string checkpoint, JsonObject state) => File.WriteAllText(Path.Combine(checkpoint, TrainerCheckpoint.StateFile), state.ToJsonString());

    private static JsonObject CheckpointCallbackState(JsonObject state) => state["callbacks"]!.AsObject()["ModelCheckpoint[val_loss]"]!.AsObject();

    [Fact]
    public void Saved_state_names_checkpoints_relative_to_the_run()
    {
        string checkpoints = Train(temp.File("run"), 2);
        var entries = CheckpointCallbackState(ReadState(Path.Combine(checkpoints, "last")));
        Assert.Contains(entries, kv => kv.Key.StartsWith("best_k.", StringComparison.Ordinal));
        foreach (var (_, value) in entries)
            Assert.DoesNotContain(temp.Path, value!.GetValue<string>());
    }

    [Fact]
    public void Resume_never_deletes_a_folder_that_a_hand_edited_state_names_outside_the_run()
    {
        string checkpoints = Train(temp.File("run"), 2);
        // Folders that look like checkpoints, outside the run and beside it.
        string outside = temp.File("precious");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, TrainerCheckpoint.StateFile), "{}");
        string last = Path.Combine(checkpoints, "last");
        var state = ReadState(last);
        var entries = CheckpointCallbackState(state);
        entries["best_k.7"] = $"1e9|{outside}";              // the worst score: evicted first by the old code
        entries["best_k.8"] = "1e9|../../precious";
        entries["best_k.9"] = "1e9|..";
        WriteState(last, state);

        Train(temp.File("run"), 4, resumeFrom: last);

        Assert.True(Directory.Exists(outside), "a folder outside the run was deleted");
        Assert.True(File.Exists(Path.Combine(outside, TrainerCheckpoint.StateFile)));
        Assert.True(Directory.Exists(checkpoints));
    }

    [Fact]
    public void Resuming_a_copy_of_a_run_leaves_the_original_run_untouched()
    {
        string original = temp.File("original");
        string checkpoints = Train(original, 2);
        string[] before = Directory.GetDirectories(checkpoints).Order().ToArray();
        string copy = temp.File("copy");
        CopyDirectory(original, copy);

        Train(copy, 5, resumeFrom: Path.Combine(copy, "checkpoints", "last"));

        Assert.Equal(before, Directory.GetDirectories(checkpoints).Order().ToArray());
        Assert.All(before, d => Assert.True(File.Exists(Path.Combine(d, TrainerCheckpoint.WeightsFile))));
    }

    [Theory]
    [InlineData("epoch", "-5", "must not be negative")]
    [InlineData("global_step", "\"many\"", "'global_step' must be a Int64")]
    [InlineData("rng_state", "\"%%%not base64%%%\"", "'rng_state' must be base64")]
    [InlineData("rng_state", "\"AAAA\"", "'rng_state' holds 3 bytes")]
    public void Bad_trainer_state_fields_are_named(string field, string json, string expected)
    {
        string last = Path.Combine(Train(temp.File("run"), 1), "last");
        var state = ReadState(last);
        state[field] = JsonNode.Parse(json);
        WriteState(last, state);
        var e = Assert.Throws<TesseraFormatException>(() => Train(temp.File("run"), 2, resumeFrom: last));
        Assert.Contains(TrainerCheckpoint.StateFile, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_non_numeric_best_score_is_named()
    {
        string last = Path.Combine(Train(temp.File("run"), 1), "last");
        var state = ReadState(last);
        CheckpointCallbackState(state)["best_k.0"] = "best|whatever";
        WriteState(last, state);
        var e = Assert.Throws<TesseraFormatException>(() => Train(temp.File("run"), 2, resumeFrom: last));
        Assert.Contains("callbacks.ModelCheckpoint[val_loss]", e.Message);
        Assert.Contains("must be a number", e.Message);
    }

    [Fact]
    public void A_missing_optimizer_state_is_an_error_not_a_silent_restart()
    {
        string last = Path.Combine(Train(temp.File("run"), 1), "last");
        File.Delete(Path.Combine(last, TrainerCheckpoint.OptimizerFile));
        var e = Assert.Throws<TesseraFormatException>(() => Train(temp.File("run"), 2, resumeFrom: last));
        Assert.Contains(TrainerCheckpoint.OptimizerFile, e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Random_bytes_in_the_optimizer_state_are_a_named_error(int length)
    {
        string last = Path.Combine(Train(temp.File("run"), 1), "last");
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        File.WriteAllBytes(Path.Combine(last, TrainerCheckpoint.OptimizerFile), bytes);
        var e = Assert.Throws<TesseraFormatException>(() => Train(temp.File("run"), 2, resumeFrom: last));
        Assert.Contains(TrainerCheckpoint.OptimizerFile, e.Message);
    }

    [Fact]
    public void Leftovers_of_a_killed_save_are_removed_by_the_next_save()
    {
        string checkpoints = Train(temp.File("run"), 1);
        string tempLeft = Path.Combine(checkpoints, $".last.{Guid.NewGuid():N}.tmp");
        string oldLeft = Path.Combine(checkpoints, $"last.old-{Guid.NewGuid():N}");
        string unrelated = Path.Combine(checkpoints, ".mine.tmp");
        foreach (string d in new[] { tempLeft, oldLeft, unrelated }) Directory.CreateDirectory(d);

        Train(temp.File("run"), 2, resumeFrom: Path.Combine(checkpoints, "last"));

        Assert.False(Directory.Exists(tempLeft));
        Assert.False(Directory.Exists(oldLeft));
        Assert.True(Directory.Exists(unrelated));
    }

    [Fact]
    public void Without_last_the_newest_complete_checkpoint_is_resumed()
    {
        string checkpoints = Train(temp.File("run"), 2);
        Directory.Delete(Path.Combine(checkpoints, "last"), recursive: true);
        string incomplete = Path.Combine(checkpoints, "epoch=9-step=99");
        Directory.CreateDirectory(incomplete); // killed while writing: no weights
        File.WriteAllText(Path.Combine(incomplete, TrainerCheckpoint.StateFile), "{\"global_step\": 99}");

        string? found = TrainerCheckpoint.FindResumable(checkpoints);

        Assert.NotNull(found);
        Assert.NotEqual(incomplete, found);
        Assert.True(File.Exists(Path.Combine(found, TrainerCheckpoint.WeightsFile)));
        Assert.Null(TrainerCheckpoint.FindResumable(temp.File("nothing-here")));
    }

    [Fact]
    public void Metrics_csv_has_no_duplicate_steps_after_a_resume()
    {
        string run = temp.File("run");
        string csvPath = Path.Combine(run, "metrics.csv");
        Directory.CreateDirectory(run);
        using (var csv = new CsvLogger(csvPath)) Train(run, 2, logger: csv);
        string last = Path.Combine(run, "checkpoints", "last");
        long checkpointStep = ReadState(last)["global_step"]!.GetValue<long>();
        // A killed run logged past its last checkpoint.
        File.AppendAllText(csvPath, $"{checkpointStep + 1},0.5\n{checkpointStep + 2},0.4\n");

        using (var csv = new CsvLogger(csvPath, append: true)) Train(run, 3, resumeFrom: last, logger: csv);

        string straight = temp.File("straight");
        Directory.CreateDirectory(straight);
        using (var csv = new CsvLogger(Path.Combine(straight, "metrics.csv"))) Train(straight, 3, logger: csv);
        Assert.Equal(Steps(Path.Combine(straight, "metrics.csv")), Steps(csvPath));
    }

    private static long[] Steps(string csv) =>
        File.ReadAllLines(csv).Skip(1).Where(l => l.Length > 0).Select(l => long.Parse(l[..l.IndexOf(',')])).ToArray();

    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string file in Directory.GetFiles(source)) File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        foreach (string dir in Directory.GetDirectories(source)) CopyDirectory(dir, Path.Combine(destination, Path.GetFileName(dir)));
    }
}
