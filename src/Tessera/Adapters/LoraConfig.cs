using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Formats;

namespace Tessera.Adapters;

/// <summary>
/// The settings of a LoRA adapter, mirroring PEFT's <c>adapter_config.json</c> (<c>peft_type: "LORA"</c>): property
/// names map 1:1 to its fields, and fields Tessera does not interpret are kept in <see cref="ExtensionData"/> and
/// written back unchanged.
/// </summary>
/// <param name="R">The rank <c>r</c> of the update B·A.</param>
/// <param name="Alpha"><c>lora_alpha</c>: the update is scaled by alpha/r (alpha/sqrt(r) with <see cref="UseRslora"/>).</param>
/// <param name="TargetModules">
/// <c>target_modules</c> as a list: a module is adapted when its name, or the end of its dotted path, equals an entry.
/// </param>
public sealed record LoraConfig(int R = 8, double Alpha = 8, IReadOnlyList<string>? TargetModules = null)
{
    /// <summary>The file name PEFT uses for the config.</summary>
    public const string FileName = "adapter_config.json";

    /// <summary><c>peft_type</c>; always <c>LORA</c>.</summary>
    public string PeftType => "LORA";

    /// <summary>
    /// <c>target_modules</c> given as a string (PEFT's string form): a regular expression matched against a module's
    /// full dotted path, or <c>all-linear</c> for every Linear/Conv1D layer except the output head.
    /// </summary>
    public string? TargetModulesRegex { get; init; }

    /// <summary><c>lora_dropout</c>: dropout probability on the input of A during training.</summary>
    public double Dropout { get; init; }

    /// <summary><c>modules_to_save</c>: modules (by name or path suffix) trained fully, as a copy, and saved with the adapter.</summary>
    public IReadOnlyList<string>? ModulesToSave { get; init; }

    /// <summary><c>bias</c>; only <c>none</c> is supported.</summary>
    public string Bias { get; init; } = "none";

    /// <summary><c>fan_in_fan_out</c>: the base weight is stored [in, out] (GPT-2's Conv1D). Set automatically for Conv1D targets.</summary>
    public bool FanInFanOut { get; init; }

    /// <summary><c>use_rslora</c>: scale by alpha/sqrt(r) instead of alpha/r.</summary>
    public bool UseRslora { get; init; }

    /// <summary><c>init_lora_weights</c>: true initialises B to zero (the adapted model starts equal to the base); false leaves both A and B random.</summary>
    public bool InitLoraWeights { get; init; } = true;

    /// <summary><c>base_model_name_or_path</c>: the model the adapter was trained on.</summary>
    public string? BaseModelNameOrPath { get; init; }

    /// <summary><c>task_type</c>, e.g. <c>CAUSAL_LM</c> or <c>SEQ_CLS</c>.</summary>
    public string? TaskType { get; init; }

    /// <summary><c>inference_mode</c>: true when the adapter was saved for inference (PEFT writes true on save).</summary>
    public bool InferenceMode { get; init; }

    /// <summary><c>revision</c> of the base model, when known.</summary>
    public string? Revision { get; init; }

    /// <summary>Fields of <c>adapter_config.json</c> that Tessera does not interpret, kept for the round trip.</summary>
    public IReadOnlyDictionary<string, JsonElement> ExtensionData { get; init; } = new Dictionary<string, JsonElement>();

    /// <summary>The factor applied to B·A: alpha/r, or alpha/sqrt(r) with <see cref="UseRslora"/>.</summary>
    public double Scaling => UseRslora ? Alpha / Math.Sqrt(R) : Alpha / R;

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">r or alpha is not positive, dropout is outside [0, 1), or no target modules are given.</exception>
    /// <exception cref="NotSupportedException"><c>bias</c> is not <c>none</c>.</exception>
    public void Validate()
    {
        if (R <= 0) throw new ArgumentException($"LoRA rank r must be a positive integer, got {R}", nameof(R));
        if (!(Alpha > 0) || double.IsInfinity(Alpha)) throw new ArgumentException($"lora_alpha must be a positive number, got {Alpha.ToString(CultureInfo.InvariantCulture)}", nameof(Alpha));
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"lora_dropout must be in [0, 1), got {Dropout.ToString(CultureInfo.InvariantCulture)}", nameof(Dropout));
        if ((TargetModules is null || TargetModules.Count == 0) && string.IsNullOrEmpty(TargetModulesRegex))
            throw new ArgumentException("target_modules is empty: name the modules to adapt (e.g. q_proj, v_proj) or give a regular expression", nameof(TargetModules));
        if (Bias != "none") throw new NotSupportedException($"bias \"{Bias}\" is not supported; only \"none\"");
        // PEFT fields that would change the adapter's math: refuse rather than silently compute something else.
        foreach (var (key, value) in ExtensionData)
        {
            bool used = value.ValueKind switch
            {
                JsonValueKind.Null or JsonValueKind.False => false,
                JsonValueKind.Object => value.EnumerateObject().Any(),
                JsonValueKind.Array => value.GetArrayLength() > 0,
                _ => true,
            };
            if (used && key is "use_dora" or "rank_pattern" or "alpha_pattern" or "layers_to_transform" or "layer_replication" or "use_qalora" or "target_parameters")
                throw new NotSupportedException($"adapter_config.json field \"{key}\" = {value.GetRawText()} is not supported by Tessera's LoRA");
        }
    }

    /// <summary>The config as PEFT's <c>adapter_config.json</c> text.</summary>
    public string ToJson()
    {
        var o = new JsonObject
        {
            ["peft_type"] = PeftType,
            ["r"] = R,
            ["lora_alpha"] = Alpha == Math.Floor(Alpha) && Math.Abs(Alpha) < int.MaxValue ? JsonValue.Create((int)Alpha) : JsonValue.Create(Alpha),
            ["lora_dropout"] = Dropout,
            ["target_modules"] = TargetModulesRegex is { } regex ? JsonValue.Create(regex) : new JsonArray([.. (TargetModules ?? []).Select(t => (JsonNode?)JsonValue.Create(t))]),
            ["modules_to_save"] = ModulesToSave is null ? null : new JsonArray([.. ModulesToSave.Select(t => (JsonNode?)JsonValue.Create(t))]),
            ["bias"] = Bias,
            ["fan_in_fan_out"] = FanInFanOut,
            ["use_rslora"] = UseRslora,
            ["init_lora_weights"] = InitLoraWeights,
            ["base_model_name_or_path"] = BaseModelNameOrPath,
            ["revision"] = Revision,
            ["task_type"] = TaskType,
            ["inference_mode"] = InferenceMode,
        };
        foreach (var (key, value) in ExtensionData)
            if (!o.ContainsKey(key)) o[key] = JsonNode.Parse(value.GetRawText());
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Writes <c>adapter_config.json</c> into <paramref name="folder"/> (created if needed).</summary>
    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, FileName), ToJson() + "\n");
    }

    /// <summary>Reads <c>adapter_config.json</c> from a folder (or the file itself).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TesseraFormatException">The JSON is invalid, not a LoRA config, or a field has the wrong type or value.</exception>
    public static LoraConfig Load(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: no {FileName}", file);
        return Parse(File.ReadAllText(file), file);
    }

    /// <summary>Parses <c>adapter_config.json</c> text.</summary>
    /// <exception cref="TesseraFormatException">The JSON is invalid, not a LoRA config, or a field has the wrong type or value.</exception>
    public static LoraConfig Parse(string json, string? sourceName = null)
    {
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new TesseraFormatException(sourceName, $"invalid JSON: {e.Message}", e);
        }
        if (root.ValueKind != JsonValueKind.Object) throw new TesseraFormatException(sourceName, $"expected a JSON object, found {root.ValueKind}");

        var known = new HashSet<string>(StringComparer.Ordinal)
        {
            "peft_type", "r", "lora_alpha", "lora_dropout", "target_modules", "modules_to_save", "bias", "fan_in_fan_out",
            "use_rslora", "init_lora_weights", "base_model_name_or_path", "revision", "task_type", "inference_mode",
        };
        string? peftType = Str(root, "peft_type", sourceName);
        if (peftType is not null && peftType != "LORA")
            throw new TesseraFormatException(sourceName, $"peft_type is \"{peftType}\"; only \"LORA\" adapters are supported");

        IReadOnlyList<string>? targets = null;
        string? regex = null;
        if (root.TryGetProperty("target_modules", out JsonElement t))
        {
            if (t.ValueKind == JsonValueKind.String)
            {
                regex = t.GetString();
                if (regex is not null and not "all-linear") TargetMatcher.FullMatch(regex, sourceName); // a syntax error names the file now, not at the first match
            }
            else if (t.ValueKind == JsonValueKind.Array) targets = StrList(t, "target_modules", sourceName);
            else if (t.ValueKind != JsonValueKind.Null) throw new TesseraFormatException(sourceName, $"field \"target_modules\": expected a list of names or a regular expression, found {t.ValueKind}");
        }
        IReadOnlyList<string>? toSave = root.TryGetProperty("modules_to_save", out JsonElement m) && m.ValueKind != JsonValueKind.Null
            ? StrList(m, "modules_to_save", sourceName) : null;

        bool initWeights = true;
        if (root.TryGetProperty("init_lora_weights", out JsonElement init))
        {
            initWeights = init.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new TesseraFormatException(sourceName, $"field \"init_lora_weights\": only true or false are supported, found {init.GetRawText()}"),
            };
        }

        var extra = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (JsonProperty p in root.EnumerateObject())
            if (!known.Contains(p.Name)) extra[p.Name] = p.Value.Clone();

        return new LoraConfig(Int(root, "r", sourceName) ?? 8, Num(root, "lora_alpha", sourceName) ?? 8, targets)
        {
            TargetModulesRegex = regex,
            Dropout = Num(root, "lora_dropout", sourceName) ?? 0,
            ModulesToSave = toSave,
            Bias = Str(root, "bias", sourceName) ?? "none",
            FanInFanOut = Bool(root, "fan_in_fan_out", sourceName) ?? false,
            UseRslora = Bool(root, "use_rslora", sourceName) ?? false,
            InitLoraWeights = initWeights,
            BaseModelNameOrPath = Str(root, "base_model_name_or_path", sourceName),
            Revision = Str(root, "revision", sourceName),
            TaskType = Str(root, "task_type", sourceName),
            InferenceMode = Bool(root, "inference_mode", sourceName) ?? false,
            ExtensionData = extra,
        };
    }

    static bool Present(JsonElement root, string name, out JsonElement value) =>
        root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    static string? Str(JsonElement root, string name, string? source) => !Present(root, name, out JsonElement v) ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString() : throw Wrong(source, name, "a string", v);

    static int? Int(JsonElement root, string name, string? source) => !Present(root, name, out JsonElement v) ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw Wrong(source, name, "an integer", v);

    static double? Num(JsonElement root, string name, string? source) => !Present(root, name, out JsonElement v) ? null
        : v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Wrong(source, name, "a number", v);

    static bool? Bool(JsonElement root, string name, string? source) => !Present(root, name, out JsonElement v) ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Wrong(source, name, "true or false", v);

    static string[] StrList(JsonElement v, string name, string? source)
    {
        if (v.ValueKind != JsonValueKind.Array) throw Wrong(source, name, "a list of strings", v);
        return [.. v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Wrong(source, name, "a list of strings", v))];
    }

    static TesseraFormatException Wrong(string? source, string name, string expected, JsonElement found) =>
        new(source, $"field \"{name}\": expected {expected}, found {found.GetRawText()}");
}
