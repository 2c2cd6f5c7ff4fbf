using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Checkpoints;
using Tessera.Formats;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Training;

/// <summary>
/// A trainer checkpoint is a folder: <c>model.safetensors</c> (the module's state dict), <c>optimizer.bin</c>
/// (TorchSharp's optimizer state) and <c>trainer_state.json</c> (epoch, step, data position, RNG, callback state).
/// The folder is written under a temporary name and renamed, so a crash never leaves a half-written checkpoint.
/// </summary>
public static class TrainerCheckpoint
{
    /// <summary>File name of the weights inside a checkpoint folder.</summary>
    public const string WeightsFile = "model.safetensors";
    /// <summary>File name of the optimizer state inside a checkpoint folder.</summary>
    public const string OptimizerFile = "optimizer.bin";
    /// <summary>File name of the trainer state inside a checkpoint folder.</summary>
    public const string StateFile = "trainer_state.json";

    /// <summary>Saves the state of <paramref name="trainer"/> and its current module into the folder <paramref name="dir"/>, replacing any folder there.</summary>
    public static void Save(Trainer trainer, string dir)
    {
        var module = trainer.Module ?? throw new InvalidOperationException("the trainer is not running a module");
        if (!trainer.IsGlobalZero) return; // replicas are identical: rank 0 writes for all
        string full = Path.GetFullPath(dir.TrimEnd('/'));
        string parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        RemoveLeftovers(full);
        string temp = Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            var (epoch, batch) = trainer.ResumePosition;
            SafeTensorsTorch.Save(Path.Combine(temp, WeightsFile), module.state_dict(),
                new Dictionary<string, string> { ["format"] = "pt", ["epoch"] = epoch.ToString(), ["global_step"] = trainer.GlobalStep.ToString() });
            if (trainer.Optimizer is OptimizerHelper helper)
            {
                using var stream = File.Create(Path.Combine(temp, OptimizerFile));
                using var writer = new BinaryWriter(stream);
                helper.save_state_dict(writer);
            }
            using var rng = get_rng_state();
            var callbacks = new JsonObject();
            foreach (var callback in trainer.Options.Callbacks)
                if (callback.StateDict() is { } state)
                    callbacks[callback.StateKey] = new JsonObject(state.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
            var json = new JsonObject
            {
                ["tessera_version"] = TesseraInfo.Version,
                ["epoch"] = epoch,
                ["batch_in_epoch"] = batch,
                ["global_step"] = trainer.GlobalStep,
                ["rng_state"] = Convert.ToBase64String(rng.bytes),
                ["callbacks"] = callbacks,
                ["metrics"] = new JsonObject(trainer.CallbackMetrics.Where(kv => double.IsFinite(kv.Value))
                    .Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            };
            File.WriteAllText(Path.Combine(temp, StateFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            ReplaceDirectory(temp, full);
        }
        catch
        {
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Restores weights, optimizer state, RNG state, callback state and the data position from <paramref name="dir"/>.</summary>
    /// <exception cref="TesseraFormatException">
    /// The folder is not a complete trainer checkpoint (a file is missing, or a field is missing, of the wrong type or out
    /// of range); the message names the file and the field.
    /// </exception>
    public static void Restore(Trainer trainer, TrainingModuleBase module, string dir)
    {
        string statePath = Path.Combine(dir, StateFile);
        if (!File.Exists(statePath)) throw new TesseraFormatException(dir, $"not a trainer checkpoint: {StateFile} is missing");
        JsonObject state;
        try
        {
            state = JsonNode.Parse(File.ReadAllText(statePath)) as JsonObject ?? throw new JsonException("expected a JSON object");
        }
        catch (JsonException e) { throw new TesseraFormatException(statePath, "invalid JSON: " + e.Message, e); }
        // Everything is checked before anything is changed, so a bad checkpoint leaves the trainer as it was.
        int epoch = Required<int>(state, "epoch", statePath);
        int batch = Required<int>(state, "batch_in_epoch", statePath);
        long step = Required<long>(state, "global_step", statePath);
        if (epoch < 0 || batch < 0 || step < 0)
            throw new TesseraFormatException(statePath, $"'epoch', 'batch_in_epoch' and 'global_step' must not be negative, got {epoch}, {batch}, {step}");
        byte[]? rng = RngState(state, statePath);
        string optimizerPath = Path.Combine(dir, OptimizerFile);
        if (trainer.Optimizer is OptimizerHelper && !File.Exists(optimizerPath))
            throw new TesseraFormatException(dir, $"incomplete trainer checkpoint: {OptimizerFile} is missing (resuming without the optimizer state would silently change the run)");

        Transformers.PretrainedWeights.LoadInto(module, Path.Combine(dir, WeightsFile));
        if (trainer.Optimizer is OptimizerHelper helper)
        {
            try
            {
                using var stream = File.OpenRead(optimizerPath);
                using var reader = new BinaryReader(stream);
                helper.load_state_dict(reader);
                if (stream.Position != stream.Length)
                    throw new InvalidDataException($"{stream.Length - stream.Position} bytes after the optimizer state");
            }
            catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or FormatException
                or InvalidOperationException or OverflowException or IndexOutOfRangeException or InvalidCastException or KeyNotFoundException)
            {
                throw new TesseraFormatException(optimizerPath, $"not a valid optimizer state for this model and optimizer: {e.Message}", e);
            }
        }
        if (rng is not null)
        {
            using var t = tensor(rng, ScalarType.Byte);
            set_rng_state(t);
        }
        if (state["callbacks"] is JsonObject callbacks)
        {
            foreach (var callback in trainer.Options.Callbacks)
            {
                if (callbacks[callback.StateKey] is not JsonObject cs) continue;
                Dictionary<string, string> values;
                try { values = cs.ToDictionary(kv => kv.Key, kv => kv.Value?.GetValue<string>() ?? ""); }
                catch (InvalidOperationException e) { throw new TesseraFormatException(statePath, $"callbacks.{callback.StateKey}: every value must be a string", e); }
                try { callback.LoadStateDict(values); }
                catch (Exception e) when (e is FormatException or ArgumentException) { throw new TesseraFormatException(statePath, $"callbacks.{callback.StateKey}: {e.Message}", e); }
            }
        }
        trainer.RestorePosition(epoch, batch, step);
    }

    /// <summary>The saved generator state, checked against the size of this libtorch's state; null when absent.</summary>
    static byte[]? RngState(JsonObject state, string path)
    {
        if (state["rng_state"] is not JsonNode node) return null;
        byte[] bytes;
        try { bytes = Convert.FromBase64String(node.GetValue<string>()); }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new TesseraFormatException(path, "field 'rng_state' must be base64 text", e);
        }
        using var current = get_rng_state();
        if (bytes.Length != current.NumberOfElements)
            throw new TesseraFormatException(path, $"field 'rng_state' holds {bytes.Length} bytes; libtorch's CPU generator state is {current.NumberOfElements}");
        return bytes;
    }

    /// <summary>
    /// The checkpoint a resumed run continues from inside <paramref name="checkpointsDir"/>: <c>last</c> when it is
    /// complete, else (after a kill before <c>last</c> was first written) the complete checkpoint with the highest
    /// <c>global_step</c>; null when there is none.
    /// </summary>
    public static string? FindResumable(string checkpointsDir)
    {
        string last = Path.Combine(checkpointsDir, "last");
        if (File.Exists(Path.Combine(last, StateFile)) && File.Exists(Path.Combine(last, WeightsFile))) return last;
        if (!Directory.Exists(checkpointsDir)) return null;
        string? best = null;
        long bestStep = -1;
        foreach (string dir in Directory.EnumerateDirectories(checkpointsDir))
        {
            if (Path.GetFileName(dir).StartsWith('.') || !File.Exists(Path.Combine(dir, WeightsFile))) continue;
            try
            {
                if (JsonNode.Parse(File.ReadAllText(Path.Combine(dir, StateFile)))?["global_step"]?.GetValue<long>() is long s && s > bestStep)
                    (best, bestStep) = (dir, s);
            }
            catch (Exception e) when (e is IOException or JsonException or InvalidOperationException or FormatException) { }
        }
        return best;
    }

    /// <summary>Deletes what a killed save of <paramref name="full"/> left beside it: its temporary and replaced folders.</summary>
    static void RemoveLeftovers(string full)
    {
        string parent = Path.GetDirectoryName(full)!, name = Path.GetFileName(full);
        if (!Directory.Exists(parent)) return;
        foreach (string dir in Directory.EnumerateDirectories(parent))
        {
            string n = Path.GetFileName(dir);
            bool temp = n.StartsWith($".{name}.", StringComparison.Ordinal) && n.EndsWith(".tmp", StringComparison.Ordinal) && n.Length == name.Length + 38;
            bool old = n.StartsWith($"{name}.old-", StringComparison.Ordinal) && n.Length == name.Length + 37;
            if (temp || old)
            {
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
            }
        }
    }

    static T Required<T>(JsonObject state, string field, string path)
    {
        try { return state[field] is { } node ? node.GetValue<T>() : throw new TesseraFormatException(path, $"field '{field}' is missing"); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new TesseraFormatException(path, $"field '{field}' must be a {typeof(T).Name}", e);
        }
    }

    /// <summary>Moves <paramref name="source"/> to <paramref name="destination"/>, replacing an existing folder with only a brief window where neither exists.</summary>
    internal static void ReplaceDirectory(string source, string destination)
    {
        if (!Directory.Exists(destination))
        {
            Directory.Move(source, destination);
            return;
        }
        string old = destination + $".old-{Guid.NewGuid():N}";
        Directory.Move(destination, old);
        Directory.Move(source, destination);
        Directory.Delete(old, recursive: true);
    }
}
