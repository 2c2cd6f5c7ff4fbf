using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Formats;

namespace Tessera.Diffusion.Schedulers;

// Reading and writing scheduler_config.json. Python's json module writes bare Infinity/-Infinity/NaN (diffusers'
// lambda_min_clipped is -inf by default) and System.Text.Json rejects them, so the text is pre-processed: bare
// literals outside strings become marked strings, read back as doubles and written back bare, as Python wrote them.
public sealed partial class SchedulerConfig
{
    /// <summary>The file name diffusers uses in a scheduler folder.</summary>
    public const string FileName = "scheduler_config.json";

    const long MaxFileBytes = 64L << 20;
    const char NonFiniteMarker = '\uE000';

    // Typed keys read from the file or set through Set*; written back even when the class does not use them.
    HashSet<string> present = new(StringComparer.Ordinal);

    /// <summary>Reads <paramref name="path"/> (a <c>scheduler_config.json</c>), keeping unknown keys in <see cref="Extra"/>.</summary>
    /// <param name="path">The JSON file.</param>
    /// <param name="defaultClassName">The class assumed when the file has no <c>_class_name</c>.</param>
    /// <exception cref="TesseraFormatException">The file is missing, too large, not JSON, or a field has the wrong type or an unsupported value (the message names the field).</exception>
    public static SchedulerConfig Load(string path, string defaultClassName = "DDPMScheduler")
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new TesseraFormatException(path, "scheduler config not found");
        if (info.Length > MaxFileBytes) throw new TesseraFormatException(path, $"scheduler config is {info.Length} bytes; at most {MaxFileBytes} expected");
        return Parse(File.ReadAllText(path), path, defaultClassName);
    }

    /// <summary>Parses scheduler config JSON text (bare <c>Infinity</c>, <c>-Infinity</c> and <c>NaN</c> allowed, as Python writes them).</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="path">The file named in errors (null: none).</param>
    /// <param name="defaultClassName">The class assumed when the text has no <c>_class_name</c>.</param>
    /// <exception cref="TesseraFormatException">The text is not a JSON object, or a field has the wrong type or an unsupported value.</exception>
    public static SchedulerConfig Parse(string json, string? path = null, string defaultClassName = "DDPMScheduler")
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(MarkNonFiniteLiterals(json), documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new TesseraFormatException(path, $"scheduler config is not valid JSON: {e.Message}", e);
        }
        if (root is not JsonObject obj) throw new TesseraFormatException(path, "scheduler config must be a JSON object");

        string className = defaultClassName;
        if (obj["_class_name"] is JsonNode classNode)
            className = classNode.GetValueKind() == JsonValueKind.String ? classNode.GetValue<string>()
                : throw new TesseraFormatException(path, "_class_name: expected a string");
        var config = ForClass(className);
        config.SourcePath = path;
        foreach (var (key, node) in obj)
        {
            if (key == "_class_name") continue;
            if (key == "_diffusers_version")
            {
                config.DiffusersVersion = node?.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node?.ToJsonString();
                continue;
            }
            if (fieldsByName.TryGetValue(key, out var field))
            {
                field.Read(config, node, path);
                config.present.Add(key);
            }
            else
            {
                config.Extra[key] = node?.DeepClone();
            }
        }
        config.Validate();
        return config;
    }

    /// <summary>Writes the config atomically to <paramref name="path"/> as diffusers does (sorted keys, indent 2, bare non-finite numbers).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    /// <summary>
    /// The config as diffusers' JSON: <c>_class_name</c>, <c>_diffusers_version</c>, every field of the class, every
    /// other typed field that was read or changed from the class default, and every key of <see cref="Extra"/>; keys
    /// sorted, non-finite numbers written bare (<c>-Infinity</c>) as Python's json module reads them.
    /// </summary>
    public string ToJson()
    {
        var defaults = ForClass(ClassName);
        var classKeys = Schedulers.ClassKeys(ClassName);
        var entries = new SortedDictionary<string, Action<Utf8JsonWriter>>(StringComparer.Ordinal)
        {
            ["_class_name"] = w => w.WriteStringValue(ClassName),
        };
        if (DiffusersVersion is not null) entries["_diffusers_version"] = w => w.WriteStringValue(DiffusersVersion);
        foreach (var (key, node) in Extra) entries[key] = w => WriteNode(w, node);
        foreach (var field in fields)
            if (classKeys.Contains(field.Name) || present.Contains(field.Name) || !field.ValueEquals(this, defaults))
                entries[field.Name] = w => field.Write(w, this);

        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            foreach (var (key, write) in entries)
            {
                writer.WritePropertyName(key);
                write(writer);
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>Whether the file or code gave <paramref name="key"/> (a diffusers field name) a value of its own.</summary>
    public bool Has(string key) => present.Contains(key) || Extra.ContainsKey(key);

    /// <summary>
    /// Checks the fields every scheduler uses: <c>num_train_timesteps</c> in 1..<see cref="MaxTrainTimesteps"/>,
    /// <c>trained_betas</c> one per training step in [0, 1], a known <c>beta_schedule</c>, <c>prediction_type</c> and
    /// <c>timestep_spacing</c>, and <c>steps_offset</c> in range.
    /// </summary>
    /// <exception cref="TesseraFormatException">A field is out of range; the message names it and what was expected.</exception>
    public void Validate()
    {
        if (NumTrainTimesteps < 1 || NumTrainTimesteps > MaxTrainTimesteps)
            throw Error("num_train_timesteps", $"expected 1..{MaxTrainTimesteps}, got {NumTrainTimesteps}");
        if (TrainedBetas is { } betas)
        {
            if (betas.Length != NumTrainTimesteps)
                throw Error("trained_betas", $"expected {NumTrainTimesteps} values (num_train_timesteps), got {betas.Length}");
            for (int i = 0; i < betas.Length; i++)
                if (!(betas[i] >= 0 && betas[i] <= 1)) throw Error("trained_betas", $"value {i} is {betas[i]}; expected 0..1");
        }
        else
        {
            if (BetaSchedule is not ("linear" or "scaled_linear" or "squaredcos_cap_v2"))
                throw Error("beta_schedule", $"'{BetaSchedule}' is not supported; expected linear, scaled_linear or squaredcos_cap_v2");
            if (BetaSchedule != "squaredcos_cap_v2")
            {
                if (!(BetaStart >= 0 && BetaStart <= 1)) throw Error("beta_start", $"expected 0..1, got {BetaStart}");
                if (!(BetaEnd >= 0 && BetaEnd <= 1)) throw Error("beta_end", $"expected 0..1, got {BetaEnd}");
            }
        }
        if (PredictionType is not ("epsilon" or "sample" or "v_prediction"))
            throw Error("prediction_type", $"'{PredictionType}' is not supported; expected epsilon, sample or v_prediction");
        if (TimestepSpacing is not ("linspace" or "leading" or "trailing"))
            throw Error("timestep_spacing", $"'{TimestepSpacing}' is not supported; expected linspace, leading or trailing");
        if (StepsOffset < 0 || StepsOffset >= NumTrainTimesteps)
            throw Error("steps_offset", $"expected 0..{NumTrainTimesteps - 1}, got {StepsOffset}");
    }

    /// <summary>An error about <paramref name="field"/> of this config, naming its file when it has one.</summary>
    internal TesseraFormatException Error(string field, string message) =>
        new(SourcePath, $"{FileName} field {field} ({ClassName}): {message}");

    /// <summary>Copies every field <paramref name="from"/> has (its class's fields and those it read) and its extra keys; the rest keeps this config's values.</summary>
    internal void TakeSharedFieldsFrom(SchedulerConfig from)
    {
        var fromKeys = Schedulers.ClassKeys(from.ClassName);
        foreach (var field in fields)
            if (fromKeys.Contains(field.Name) || from.present.Contains(field.Name))
            {
                field.Copy(from, this);
                present.Add(field.Name);
            }
        foreach (var (key, node) in from.Extra) Extra[key] = node?.DeepClone();
        DiffusersVersion = from.DiffusersVersion;
        SourcePath = from.SourcePath;
    }

    // ---- the typed fields, one line each: JSON name, property, reader, writer ----

    static readonly Field[] fields =
    [
        new Field<int>("num_train_timesteps", c => c.NumTrainTimesteps, (c, v) => c.NumTrainTimesteps = v, ReadInt, (w, v) => w.WriteNumberValue(v)),
        new Field<double>("beta_start", c => c.BetaStart, (c, v) => c.BetaStart = v, ReadDouble, WriteDouble),
        new Field<double>("beta_end", c => c.BetaEnd, (c, v) => c.BetaEnd = v, ReadDouble, WriteDouble),
        new Field<string>("beta_schedule", c => c.BetaSchedule, (c, v) => c.BetaSchedule = v, ReadString, (w, v) => w.WriteStringValue(v)),
        new Field<double[]?>("trained_betas", c => c.TrainedBetas, (c, v) => c.TrainedBetas = v?.ToArray(), ReadDoubleArray, WriteDoubleArray),
        new Field<string>("prediction_type", c => c.PredictionType, (c, v) => c.PredictionType = v, ReadString, (w, v) => w.WriteStringValue(v)),
        new Field<string>("timestep_spacing", c => c.TimestepSpacing, (c, v) => c.TimestepSpacing = v, ReadString, (w, v) => w.WriteStringValue(v)),
        new Field<int>("steps_offset", c => c.StepsOffset, (c, v) => c.StepsOffset = v, ReadInt, (w, v) => w.WriteNumberValue(v)),
        new Field<bool>("clip_sample", c => c.ClipSample, (c, v) => c.ClipSample = v, ReadBool, (w, v) => w.WriteBooleanValue(v)),
        new Field<double>("clip_sample_range", c => c.ClipSampleRange, (c, v) => c.ClipSampleRange = v, ReadDouble, WriteDouble),
        new Field<bool>("thresholding", c => c.Thresholding, (c, v) => c.Thresholding = v, ReadBool, (w, v) => w.WriteBooleanValue(v)),
        new Field<double>("dynamic_thresholding_ratio", c => c.DynamicThresholdingRatio, (c, v) => c.DynamicThresholdingRatio = v, ReadDouble, WriteDouble),
        new Field<double>("sample_max_value", c => c.SampleMaxValue, (c, v) => c.SampleMaxValue = v, ReadDouble, WriteDouble),
        new Field<bool>("set_alpha_to_one", c => c.SetAlphaToOne, (c, v) => c.SetAlphaToOne = v, ReadBool, (w, v) => w.WriteBooleanValue(v)),
        new Field<string?>("variance_type", c => c.VarianceType, (c, v) => c.VarianceType = v, ReadNullableString, WriteNullableString),
        new Field<bool>("rescale_betas_zero_snr", c => c.RescaleBetasZeroSnr, (c, v) => c.RescaleBetasZeroSnr = v, ReadBool, (w, v) => w.WriteBooleanValue(v)),
        new Field<string>("interpolation_type", c => c.InterpolationType, (c, v) => c.InterpolationType = v, ReadString, (w, v) => w.WriteStringValue(v)),
        new Field<bool>("use_karras_sigmas", c => c.UseKarrasSigmas, (c, v) => c.UseKarrasSigmas = v, ReadNullableBool, (w, v) => w.WriteBooleanValue(v)),
        new Field<bool>("use_exponential_sigmas", c => c.UseExponentialSigmas, (c, v) => c.UseExponentialSigmas = v, ReadNullableBool, (w, v) => w.WriteBooleanValue(v)),
        new Field<bool>("use_beta_sigmas", c => c.UseBetaSigmas, (c, v) => c.UseBetaSigmas = v, ReadNullableBool, (w, v) => w.WriteBooleanValue(v)),
        new Field<bool>("use_lu_lambdas", c => c.UseLuLambdas, (c, v) => c.UseLuLambdas = v, ReadNullableBool, (w, v) => w.WriteBooleanValue(v)),
        new Field<bool>("use_flow_sigmas", c => c.UseFlowSigmas, (c, v) => c.UseFlowSigmas = v, ReadNullableBool, (w, v) => w.WriteBooleanValue(v)),
        new Field<double?>("sigma_min", c => c.SigmaMin, (c, v) => c.SigmaMin = v, ReadNullableDouble, WriteNullableDouble),
        new Field<double?>("sigma_max", c => c.SigmaMax, (c, v) => c.SigmaMax = v, ReadNullableDouble, WriteNullableDouble),
        new Field<string>("timestep_type", c => c.TimestepType, (c, v) => c.TimestepType = v, ReadString, (w, v) => w.WriteStringValue(v)),
        new Field<string>("final_sigmas_type", c => c.FinalSigmasType, (c, v) => c.FinalSigmasType = v, ReadString, (w, v) => w.WriteStringValue(v)),
        new Field<int>("solver_order", c => c.SolverOrder, (c, v) => c.SolverOrder = v, ReadInt, (w, v) => w.WriteNumberValue(v)),
        new Field<string>("algorithm_type", c => c.AlgorithmType, (c, v) => c.AlgorithmType = v, ReadString, (w, v) => w.WriteStringValue(v)),
        new Field<string>("solver_type", c => c.SolverType, (c, v) => c.SolverType = v, ReadString, (w, v) => w.WriteStringValue(v)),
        new Field<bool>("lower_order_final", c => c.LowerOrderFinal, (c, v) => c.LowerOrderFinal = v, ReadBool, (w, v) => w.WriteBooleanValue(v)),
        new Field<bool>("euler_at_final", c => c.EulerAtFinal, (c, v) => c.EulerAtFinal = v, ReadBool, (w, v) => w.WriteBooleanValue(v)),
        new Field<double>("lambda_min_clipped", c => c.LambdaMinClipped, (c, v) => c.LambdaMinClipped = v, ReadDouble, WriteDouble),
    ];

    static readonly Dictionary<string, Field> fieldsByName = fields.ToDictionary(f => f.Name, StringComparer.Ordinal);

    /// <summary>The diffusers field names this class types (every other key lands in <see cref="Extra"/>).</summary>
    public static IReadOnlyCollection<string> TypedKeys => fieldsByName.Keys;

    abstract class Field(string name)
    {
        public string Name { get; } = name;
        public abstract void Read(SchedulerConfig config, JsonNode? node, string? path);
        public abstract void Write(Utf8JsonWriter writer, SchedulerConfig config);
        public abstract void Copy(SchedulerConfig from, SchedulerConfig to);
        public abstract bool ValueEquals(SchedulerConfig a, SchedulerConfig b);
    }

    sealed class Field<T>(string name, Func<SchedulerConfig, T> get, Action<SchedulerConfig, T> set,
        Func<JsonNode?, string, T> read, Action<Utf8JsonWriter, T> write) : Field(name)
    {
        public override void Read(SchedulerConfig config, JsonNode? node, string? path)
        {
            try { set(config, read(node, Name)); }
            catch (FormatException e) { throw new TesseraFormatException(path, $"{FileName} field {Name}: {e.Message}"); }
        }

        public override void Write(Utf8JsonWriter writer, SchedulerConfig config) => write(writer, get(config));
        public override void Copy(SchedulerConfig from, SchedulerConfig to) => set(to, get(from));

        public override bool ValueEquals(SchedulerConfig a, SchedulerConfig b) => (get(a), get(b)) switch
        {
            (double[] x, double[] y) => x.AsSpan().SequenceEqual(y),
            var (x, y) => EqualityComparer<T>.Default.Equals(x, y),
        };
    }

    // ---- readers: FormatException carries "expected ..., got ..." and Field.Read adds file and field ----

    static string Describe(JsonNode? node) => node is null ? "null" : node.ToJsonString();

    static int ReadInt(JsonNode? node, string name)
    {
        double d = ReadDouble(node, name);
        if (d != Math.Floor(d) || d < int.MinValue || d > int.MaxValue) throw new FormatException($"expected an integer, got {Describe(node)}");
        return (int)d;
    }

    static double ReadDouble(JsonNode? node, string name)
    {
        if (node is JsonValue value)
        {
            if (value.GetValueKind() == JsonValueKind.Number) return value.GetValue<double>();
            if (value.GetValueKind() == JsonValueKind.String && ParseNonFinite(value.GetValue<string>()) is double special) return special;
        }
        throw new FormatException($"expected a number, got {Describe(node)}");
    }

    static double? ReadNullableDouble(JsonNode? node, string name) => node is null ? null : ReadDouble(node, name);

    static bool ReadBool(JsonNode? node, string name) => node?.GetValueKind() switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new FormatException($"expected true or false, got {Describe(node)}"),
    };

    // diffusers types use_karras_sigmas as Optional[bool]; null means false.
    static bool ReadNullableBool(JsonNode? node, string name) => node is not null && ReadBool(node, name);

    static string ReadString(JsonNode? node, string name) =>
        node?.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : throw new FormatException($"expected a string, got {Describe(node)}");

    static string? ReadNullableString(JsonNode? node, string name) => node is null ? null : ReadString(node, name);

    static double[]? ReadDoubleArray(JsonNode? node, string name)
    {
        if (node is null) return null;
        if (node is not JsonArray array) throw new FormatException($"expected an array of numbers or null, got {Describe(node)}");
        if (array.Count > MaxTrainTimesteps) throw new FormatException($"expected at most {MaxTrainTimesteps} values, got {array.Count}");
        var result = new double[array.Count];
        for (int i = 0; i < result.Length; i++) result[i] = ReadDouble(array[i], name);
        return result;
    }

    // ---- writers ----

    static void WriteDouble(Utf8JsonWriter writer, double value)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteRawValue(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity", skipInputValidation: true);
    }

    static void WriteNullableDouble(Utf8JsonWriter writer, double? value)
    {
        if (value is double d) WriteDouble(writer, d);
        else writer.WriteNullValue();
    }

    static void WriteNullableString(Utf8JsonWriter writer, string? value)
    {
        if (value is null) writer.WriteNullValue();
        else writer.WriteStringValue(value);
    }

    static void WriteDoubleArray(Utf8JsonWriter writer, double[]? values)
    {
        if (values is null) { writer.WriteNullValue(); return; }
        writer.WriteStartArray();
        foreach (double v in values) WriteDouble(writer, v);
        writer.WriteEndArray();
    }

    // An Extra node as read; marked strings go back to bare Infinity/-Infinity/NaN.
    static void WriteNode(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case null: writer.WriteNullValue(); break;
            case JsonObject obj:
                writer.WriteStartObject();
                foreach (var (key, child) in obj) { writer.WritePropertyName(key); WriteNode(writer, child); }
                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var child in array) WriteNode(writer, child);
                writer.WriteEndArray();
                break;
            default:
                if (node.GetValueKind() == JsonValueKind.String && ParseNonFinite(node.GetValue<string>()) is double special) WriteDouble(writer, special);
                else node.WriteTo(writer);
                break;
        }
    }

    // ---- bare non-finite literals ----

    static double? ParseNonFinite(string s) =>
        s.Length > 1 && s[0] == NonFiniteMarker
            ? s.AsSpan(1) switch { "Infinity" => double.PositiveInfinity, "-Infinity" => double.NegativeInfinity, "NaN" => double.NaN, _ => null }
            : null;

    /// <summary>Replaces bare <c>Infinity</c>, <c>-Infinity</c> and <c>NaN</c> outside strings with marked strings.</summary>
    internal static string MarkNonFiniteLiterals(string json)
    {
        StringBuilder? result = null;
        int copied = 0;
        bool inString = false;
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (inString)
            {
                if (c == '\\') i++;
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') { inString = true; continue; }
            string? literal = c switch
            {
                'I' when string.CompareOrdinal(json, i, "Infinity", 0, 8) == 0 => "Infinity",
                'N' when string.CompareOrdinal(json, i, "NaN", 0, 3) == 0 => "NaN",
                '-' when string.CompareOrdinal(json, i, "-Infinity", 0, 9) == 0 => "-Infinity",
                _ => null,
            };
            if (literal is null) continue;
            result ??= new StringBuilder(json.Length + 16);
            result.Append(json, copied, i - copied).Append('"').Append(NonFiniteMarker).Append(literal).Append('"');
            i += literal.Length - 1;
            copied = i + 1;
        }
        return result is null ? json : result.Append(json, copied, json.Length - copied).ToString();
    }
}
