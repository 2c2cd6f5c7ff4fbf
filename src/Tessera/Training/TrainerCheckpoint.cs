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
        string full = Path.GetFullPath(dir.TrimEnd('/'));
        string parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
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
    /// <exception cref="TesseraFormatException">The folder is not a complete trainer checkpoint.</exception>
    public static void Restore(Trainer trainer, TrainingModuleBase module, string dir)
    {
        string statePath = Path.Combine(dir, StateFile);
        if (!File.Exists(statePath)) throw new TesseraFormatException(dir, $"not a trainer checkpoint: {StateFile} is missing");
        JsonNode state;
        try { state = JsonNode.Parse(File.ReadAllText(statePath)) ?? throw new JsonException("empty document"); }
        catch (JsonException e) { throw new TesseraFormatException(statePath, "invalid JSON: " + e.Message, e); }

        Transformers.PretrainedWeights.LoadInto(module, Path.Combine(dir, WeightsFile));
        string optimizerPath = Path.Combine(dir, OptimizerFile);
        if (trainer.Optimizer is OptimizerHelper helper && File.Exists(optimizerPath))
        {
            using var stream = File.OpenRead(optimizerPath);
            using var reader = new BinaryReader(stream);
            helper.load_state_dict(reader);
        }
        if (state["rng_state"]?.GetValue<string>() is string rng)
        {
            using var t = tensor(Convert.FromBase64String(rng), ScalarType.Byte);
            set_rng_state(t);
        }
        if (state["callbacks"] is JsonObject callbacks)
            foreach (var callback in trainer.Options.Callbacks)
                if (callbacks[callback.StateKey] is JsonObject cs)
                    callback.LoadStateDict(cs.ToDictionary(kv => kv.Key, kv => kv.Value?.GetValue<string>() ?? ""));
        int epoch = Required<int>(state, "epoch", statePath);
        int batch = Required<int>(state, "batch_in_epoch", statePath);
        long step = Required<long>(state, "global_step", statePath);
        trainer.RestorePosition(epoch, batch, step);
    }

    static T Required<T>(JsonNode state, string field, string path)
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
