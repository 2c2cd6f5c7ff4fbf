using Tessera.Checkpoints;
using Tessera.Formats;
using Tessera.Formats.SafeTensors;
using Tessera.Transformers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Adapters;

/// <summary>
/// LoRA adapters on a model (PEFT's <c>get_peft_model</c> / <c>PeftModel</c>): the target projections get
/// <see cref="LoraLinear"/> updates and target embedding tables <see cref="LoraEmbedding"/> updates through forward
/// hooks, so the model object itself keeps its type and its forward runs with the active adapter; base weights are
/// frozen. Adapters save and load in PEFT's layout (<c>adapter_config.json</c> + <c>adapter_model.safetensors</c>, keys
/// <c>base_model.model.{path}.lora_A.weight</c>, or <c>base_model.model.{path}.lora_embedding_A</c> for embeddings).
/// </summary>
public sealed class LoraModel
{
    /// <summary>PEFT's <c>target_modules</c> shorthand for every linear layer except the output head.</summary>
    public const string AllLinear = "all-linear";

    /// <summary>The file name PEFT uses for adapter weights.</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>The prefix PEFT puts before module paths in saved keys.</summary>
    public const string KeyPrefix = "base_model.model.";

    readonly Dictionary<string, LoraConfig> configs = new(StringComparer.Ordinal);
    readonly Dictionary<string, LoraLayer> layers = new(StringComparer.Ordinal);
    readonly Dictionary<string, ModulesToSaveWrapper> saved = new(StringComparer.Ordinal);
    readonly List<Action> hooks = [];
    // By name: moving the model to another device replaces its Parameter objects.
    readonly HashSet<string> frozen = new(StringComparer.Ordinal);
    string? active;
    bool enabled = true;

    LoraModel(nn.Module model) => Model = model;

    /// <summary>The adapted model; calling it runs the active adapter.</summary>
    public nn.Module Model { get; }

    /// <summary>The adapters' configs, by name.</summary>
    public IReadOnlyDictionary<string, LoraConfig> Adapters => configs;

    /// <summary>The adapter the model runs with.</summary>
    public string? ActiveAdapter => active;

    /// <summary>The adapted layers (<see cref="LoraLinear"/> or <see cref="LoraEmbedding"/>), by module path.</summary>
    public IReadOnlyDictionary<string, LoraLayer> Layers => layers;

    /// <summary>Whether adapters are applied; false gives the base model's behaviour.</summary>
    public bool AdaptersEnabled => enabled;

    /// <summary>
    /// Adds LoRA to the target modules of <paramref name="model"/>, freezes every base parameter and makes the new
    /// adapter active and trainable. Conv1D targets set <c>fan_in_fan_out</c> in the stored config.
    /// </summary>
    /// <exception cref="ArgumentException">The config is invalid, or the targets match no module (the message lists similar names).</exception>
    /// <exception cref="NotSupportedException">A target is not a Linear, Conv1D or Embedding layer.</exception>
    public static LoraModel Wrap(nn.Module model, LoraConfig config, string adapterName = "default")
    {
        ArgumentNullException.ThrowIfNull(model);
        var peft = new LoraModel(model);
        peft.AddAdapter(adapterName, config);
        return peft;
    }

    /// <summary>Wraps <paramref name="model"/> with the adapter saved in <paramref name="folder"/>.</summary>
    /// <param name="model">The base model.</param>
    /// <param name="folder">Holds <c>adapter_config.json</c> and <c>adapter_model.safetensors</c>.</param>
    /// <param name="adapterName">The name to give the adapter.</param>
    /// <param name="isTrainable">Leave the adapter's parameters trainable (for further fine-tuning); frozen otherwise.</param>
    /// <exception cref="TesseraFormatException">The files are invalid, keys are missing or unexpected, or a shape differs (the message names the tensor and both shapes).</exception>
    public static LoraModel FromPretrained(nn.Module model, string folder, string adapterName = "default", bool isTrainable = false)
    {
        LoraConfig config = LoraConfig.Load(folder);
        CheckRank(folder, config);
        LoraModel peft = Wrap(model, config, adapterName);
        try
        {
            peft.LoadWeights(folder, adapterName);
        }
        catch
        {
            peft.Unload();
            throw;
        }
        peft.SetTrainable(adapterName, isTrainable);
        return peft;
    }

    /// <summary>Adds another adapter from <paramref name="folder"/> (it does not become active).</summary>
    /// <exception cref="TesseraFormatException">As for <see cref="FromPretrained"/>.</exception>
    public void LoadAdapter(string folder, string adapterName, bool isTrainable = false)
    {
        LoraConfig config = LoraConfig.Load(folder);
        CheckRank(folder, config);
        string? previous = active;
        AddAdapter(adapterName, config);
        try
        {
            LoadWeights(folder, adapterName);
        }
        catch
        {
            DeleteAdapter(adapterName);
            throw;
        }
        SetTrainable(adapterName, isTrainable);
        if (previous is not null) SetActiveAdapter(previous);
    }

    /// <summary>Adds an adapter on the modules <paramref name="config"/> targets and makes it active and trainable.</summary>
    /// <exception cref="ArgumentException">The name is taken, the config is invalid, or the targets match nothing.</exception>
    public void AddAdapter(string adapterName, LoraConfig config)
    {
        ArgumentException.ThrowIfNullOrEmpty(adapterName);
        ArgumentNullException.ThrowIfNull(config);
        if (configs.ContainsKey(adapterName)) throw new ArgumentException($"adapter \"{adapterName}\" already exists", nameof(adapterName));
        if (adapterName.Contains('.')) throw new ArgumentException($"adapter name \"{adapterName}\" must not contain '.'", nameof(adapterName));
        config.Validate();

        var modules = Model.named_modules().Where(m => m.name.Length > 0 && !TargetMatcher.IsAdapterInternal(m.name)).ToList();
        var targets = modules.Where(m => config.TargetModulesRegex == AllLinear
            ? m.module is Linear or FastLinear or Conv1D && !TargetMatcher.IsOutputHead(m.name)
            : TargetMatcher.IsTarget(config, m.name)).ToList();
        if (targets.Count == 0) throw new ArgumentException(TargetMatcher.NoMatchMessage(config, modules.Select(m => m.name)), nameof(config));
        foreach (var (name, module) in targets)
            if (module is not (Linear or FastLinear or Conv1D or Embedding))
                throw new NotSupportedException($"target module '{name}' is a {module.GetType().Name}; LoRA supports Linear, Conv1D and Embedding layers");

        var toSave = config.ModulesToSave is { Count: > 0 } names
            ? modules.Where(m => names.Any(n => TargetMatcher.EndsWithComponent(m.name, n))).ToList()
            : [];
        if (config.ModulesToSave is { Count: > 0 } && toSave.Count == 0)
            throw new ArgumentException($"modules_to_save [{string.Join(", ", config.ModulesToSave)}] matches no module", nameof(config));

        if (configs.Count == 0 && frozen.Count == 0)
        {
            foreach (var (name, p) in Model.named_parameters())
            {
                if (!p.requires_grad) continue;
                frozen.Add(name);
                p.requires_grad = false;
            }
        }
        bool anyConv = false;
        foreach (var (name, module) in targets)
        {
            if (!layers.TryGetValue(name, out LoraLayer? layer))
            {
                layer = module is Embedding embedding ? new LoraEmbedding(embedding) : new LoraLinear((nn.Module<Tensor, Tensor>)module);
                layers[name] = layer;
                LoraLayer captured = layer;
                var remover = ((nn.Module<Tensor, Tensor>)module).register_forward_hook((m, input, output) =>
                    enabled && captured.Delta(input, m.training) is { } delta ? output + delta : output);
                hooks.Add(remover.remove);
            }
            layer.AddAdapter(adapterName, config);
            anyConv |= layer is LoraLinear { FanInFanOut: true };
        }
        foreach (var (name, module) in toSave)
        {
            if (module is not nn.Module<Tensor, Tensor> typed) throw new NotSupportedException($"modules_to_save '{name}' is a {module.GetType().Name}, not a single-input module");
            if (!saved.TryGetValue(name, out ModulesToSaveWrapper? wrapper))
            {
                wrapper = new ModulesToSaveWrapper(typed);
                saved[name] = wrapper;
                ModulesToSaveWrapper captured = wrapper;
                var remover = typed.register_forward_hook((m, input, output) => enabled && captured.Forward(input) is { } replaced ? replaced : output);
                hooks.Add(remover.remove);
            }
            wrapper.AddAdapter(adapterName);
        }
        configs[adapterName] = anyConv && !config.FanInFanOut ? config with { FanInFanOut = true } : config;
        SetActiveAdapter(adapterName);
        SetTrainable(adapterName, true);
    }

    /// <summary>Makes <paramref name="adapterName"/> the adapter the model runs with (and the one <see cref="Merge"/> and <see cref="SavePretrained"/> use by default).</summary>
    /// <exception cref="ArgumentException">No such adapter.</exception>
    public void SetActiveAdapter(string adapterName)
    {
        RequireAdapter(adapterName);
        foreach (LoraLayer layer in layers.Values) layer.ActiveAdapter = layer.Adapters.Contains(adapterName) ? adapterName : null;
        foreach (ModulesToSaveWrapper w in saved.Values) w.ActiveAdapter = w.Has(adapterName) ? adapterName : null;
        active = adapterName;
    }

    /// <summary>Turns all adapters off (base behaviour) until <see cref="EnableAdapters"/>; merged adapters are unmerged first.</summary>
    public void DisableAdapters()
    {
        foreach (LoraLayer layer in layers.Values)
            foreach (string a in layer.MergedAdapters.ToList()) layer.Unmerge(a);
        enabled = false;
    }

    /// <summary>Turns adapters back on after <see cref="DisableAdapters"/>.</summary>
    public void EnableAdapters() => enabled = true;

    /// <summary>Removes an adapter; if it was active, another remaining adapter (or none) becomes active.</summary>
    /// <exception cref="ArgumentException">No such adapter.</exception>
    public void DeleteAdapter(string adapterName)
    {
        RequireAdapter(adapterName);
        foreach (LoraLayer layer in layers.Values) layer.DeleteAdapter(adapterName);
        foreach (ModulesToSaveWrapper w in saved.Values) w.DeleteAdapter(adapterName);
        configs.Remove(adapterName);
        if (active == adapterName)
        {
            active = null;
            if (configs.Keys.FirstOrDefault() is { } next) SetActiveAdapter(next);
        }
    }

    /// <summary>Sets <c>requires_grad</c> of an adapter's LoRA matrices and saved-module copies.</summary>
    public void SetTrainable(string adapterName, bool trainable)
    {
        RequireAdapter(adapterName);
        foreach (LoraLayer layer in layers.Values)
            if (layer.Adapters.Contains(adapterName)) layer.SetTrainable(adapterName, trainable);
        foreach (ModulesToSaveWrapper w in saved.Values)
            if (w.Has(adapterName))
                foreach (var p in w.Copy(adapterName).parameters()) p.requires_grad = trainable;
    }

    /// <summary>The parameters that receive gradients (the trainable adapters' matrices and saved-module copies).</summary>
    public IEnumerable<Parameter> TrainableParameters() => Model.parameters().Where(p => p.requires_grad);

    /// <summary>Trainable and total parameter counts (total includes the adapters, as PEFT reports it).</summary>
    public (long Trainable, long Total) ParameterCounts()
    {
        long trainable = 0, total = 0;
        foreach (Parameter p in Model.parameters())
        {
            total += p.numel();
            if (p.requires_grad) trainable += p.numel();
        }
        return (trainable, total);
    }

    /// <summary>PEFT's summary line: <c>trainable params: N || all params: M || trainable%: P</c>.</summary>
    public string TrainableParametersSummary()
    {
        var (trainable, total) = ParameterCounts();
        return FormattableString.Invariant($"trainable params: {trainable:N0} || all params: {total:N0} || trainable%: {100.0 * trainable / Math.Max(1, total):F4}");
    }

    /// <summary>Adds the adapter's update into the base weights (no extra cost at inference); <see cref="Unmerge"/> undoes it.</summary>
    /// <exception cref="ArgumentException">No such adapter.</exception>
    public void Merge(string? adapterName = null)
    {
        string name = adapterName ?? active ?? throw new InvalidOperationException("no active adapter to merge");
        RequireAdapter(name);
        foreach (LoraLayer layer in layers.Values)
            if (layer.Adapters.Contains(name)) layer.Merge(name);
    }

    /// <summary>Subtracts every merged adapter's update from the base weights (restores them within fp32 rounding).</summary>
    public void Unmerge()
    {
        foreach (LoraLayer layer in layers.Values)
            foreach (string a in layer.MergedAdapters.ToList()) layer.Unmerge(a);
    }

    /// <summary>
    /// Merges the active adapter into the base weights (and copies its saved modules over the originals), removes
    /// every adapter and hook, and returns the plain model, ready for <see cref="PreTrainedModel.SavePretrained"/>
    /// (while adapters are attached, the model's own state_dict also holds their <c>lora_A.{adapter}</c> tensors).
    /// This <see cref="LoraModel"/> holds no adapters afterwards.
    /// </summary>
    public nn.Module MergeAndUnload()
    {
        if (active is { } name && enabled)
        {
            Merge(name);
            foreach (ModulesToSaveWrapper w in saved.Values)
                if (w.Has(name)) w.MergeInto(name);
        }
        return Unload();
    }

    /// <summary>
    /// Removes every adapter and hook without merging and returns the base model (weights as they are now), with the
    /// parameters <see cref="Wrap"/> froze trainable again.
    /// </summary>
    public nn.Module Unload()
    {
        foreach (Action remove in hooks) remove();
        hooks.Clear();
        foreach (LoraLayer layer in layers.Values) layer.Detach();
        foreach (ModulesToSaveWrapper w in saved.Values)
        {
            foreach (string a in w.Adapters.ToList()) w.DeleteAdapter(a);
            w.Detach();
        }
        foreach (var (name, p) in Model.named_parameters())
            if (frozen.Contains(name)) p.requires_grad = true;
        frozen.Clear();
        layers.Clear();
        saved.Clear();
        configs.Clear();
        active = null;
        return Model;
    }

    /// <summary>
    /// The adapter's tensors under PEFT's saved key names (<c>base_model.model.{path}.lora_A.weight</c>,
    /// <c>base_model.model.{path}.lora_embedding_A</c>, ...), as views of the live parameters.
    /// </summary>
    public Dictionary<string, Tensor> AdapterStateDict(string? adapterName = null)
    {
        string name = adapterName ?? active ?? throw new InvalidOperationException("no active adapter");
        RequireAdapter(name);
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (path, layer) in layers.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!layer.Adapters.Contains(name)) continue;
            foreach (var (suffix, tensor) in layer.SavedTensors(name)) state[$"{KeyPrefix}{path}.{suffix}"] = tensor;
        }
        foreach (var (path, w) in saved.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!w.Has(name)) continue;
            foreach (var (p, t) in w.Copy(name).named_parameters()) state[$"{KeyPrefix}{path}.{p}"] = t;
        }
        return state;
    }

    /// <summary>Writes <c>adapter_config.json</c> (with <c>inference_mode: true</c>, as PEFT saves) and <c>adapter_model.safetensors</c> into <paramref name="folder"/>.</summary>
    public void SavePretrained(string folder, string? adapterName = null)
    {
        string name = adapterName ?? active ?? throw new InvalidOperationException("no active adapter");
        RequireAdapter(name);
        Directory.CreateDirectory(folder);
        var state = AdapterStateDict(name);
        SafeTensorsTorch.Save(Path.Combine(folder, WeightsFileName), state, new Dictionary<string, string> { ["format"] = "pt" });
        (configs[name] with { InferenceMode = true }).Save(folder);
    }

    /// <summary>
    /// Copies the tensors of <paramref name="folder"/>'s <c>adapter_model.safetensors</c> into an existing adapter;
    /// everything is checked first. A full base weight saved beside the adapter of an adapted layer
    /// (<c>base_model.model.{path}.base_layer.weight</c>, which PEFT writes for targeted <c>embed_tokens</c>/<c>lm_head</c>
    /// by default) replaces that layer's base weight, as PEFT loads it.
    /// </summary>
    /// <exception cref="TesseraFormatException">Keys are missing or unexpected, or a shape differs (the message names the tensor and both shapes).</exception>
    /// <exception cref="FileNotFoundException">The weights file is missing.</exception>
    public void LoadWeights(string folder, string adapterName)
    {
        string file = Directory.Exists(folder) ? Path.Combine(folder, WeightsFileName) : folder;
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: no adapter weights", file);
        Dictionary<string, Tensor> expected = AdapterStateDict(adapterName);
        Dictionary<string, Tensor> loaded = SafeTensorsTorch.Load(file);
        foreach (var (path, layer) in layers)
            if (loaded.ContainsKey($"{KeyPrefix}{path}.base_layer.weight")) expected[$"{KeyPrefix}{path}.base_layer.weight"] = layer.BaseWeight;
        try
        {
            var missing = expected.Keys.Where(k => !loaded.ContainsKey(k)).ToList();
            var unexpected = loaded.Keys.Where(k => !expected.ContainsKey(k)).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
            {
                var parts = new List<string>();
                if (missing.Count > 0) parts.Add($"missing from the file: {string.Join(", ", missing)}");
                if (unexpected.Count > 0) parts.Add($"not in the adapted model: {string.Join(", ", unexpected)}");
                throw new TesseraFormatException(file, $"adapter keys do not match the model ({string.Join("; ", parts)})");
            }
            foreach (var (key, target) in expected)
            {
                Tensor source = loaded[key];
                if (!source.shape.SequenceEqual(target.shape))
                    throw new TesseraFormatException(file, $"tensor '{key}': file has shape [{string.Join(", ", source.shape)}] but the model expects [{string.Join(", ", target.shape)}]");
            }
            using var noGrad = no_grad();
            foreach (var (key, target) in expected) target.copy_(loaded[key]);
        }
        finally
        {
            foreach (Tensor t in loaded.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Compares <c>r</c> with the A matrices ([r, in]) in the weights file's header before any adapter is allocated, so a
    /// huge r fails in one line instead of allocating r × in for every target.
    /// </summary>
    static void CheckRank(string folder, LoraConfig config)
    {
        string file = Directory.Exists(folder) ? Path.Combine(folder, WeightsFileName) : folder;
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: no adapter weights", file);
        foreach (SafeTensorInfo info in SafeTensorsFile.ReadHeader(file))
        {
            if (!(info.Name.EndsWith(".lora_A.weight", StringComparison.Ordinal) || info.Name.EndsWith(".lora_embedding_A", StringComparison.Ordinal))) continue;
            if (info.Shape.Length != 2 || info.Shape[0] != config.R)
                throw new TesseraFormatException(Path.Combine(Path.GetDirectoryName(file) ?? ".", LoraConfig.FileName),
                    $"r {config.R} does not match {Path.GetFileName(file)} ({info.Name} is [{string.Join(", ", info.Shape)}])");
        }
    }

    void RequireAdapter(string adapterName)
    {
        if (!configs.ContainsKey(adapterName))
            throw new ArgumentException($"no adapter named \"{adapterName}\" (adapters: {string.Join(", ", configs.Keys)})", nameof(adapterName));
    }
}
