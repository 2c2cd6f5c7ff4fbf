using System.Text.Json;
using Tessera.Runtime;

namespace Tessera.Serving;

/// <summary>KServe v2 JSON tensors (<c>{"name", "shape", "datatype", "data"}</c>) to and from <see cref="NamedTensor"/>.</summary>
internal static class KServeTensors
{
    public static string DataTypeName(TensorDataType type) => type switch
    {
        TensorDataType.Float32 => "FP32",
        TensorDataType.Float64 => "FP64",
        TensorDataType.Int64 => "INT64",
        TensorDataType.Int32 => "INT32",
        TensorDataType.UInt8 => "UINT8",
        _ => "BYTES",
    };

    /// <summary>Reads the request's <c>inputs</c>, checking each against the model's inputs; a 400 names the input.</summary>
    public static Dictionary<string, NamedTensor> ReadInputs(JsonElement root, IReadOnlyList<TensorSpec> specs)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.Array)
            throw ApiError.BadRequest("the body must be a JSON object with an \"inputs\" array");
        var result = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var input in inputs.EnumerateArray())
        {
            string name = input.ValueKind == JsonValueKind.Object && input.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
                ? n.GetString()! : throw ApiError.BadRequest("every input needs a \"name\" string");
            var spec = specs.FirstOrDefault(s => s.Name == name)
                ?? throw ApiError.BadRequest($"input \"{name}\" is not an input of the model; it takes {string.Join(", ", specs.Select(s => $"{s.Name} {DataTypeName(s.DataType)} {Shape(s)}"))}");
            if (result.ContainsKey(name)) throw ApiError.BadRequest($"input \"{name}\" is given twice");
            string datatype = input.TryGetProperty("datatype", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : throw ApiError.BadRequest($"input \"{name}\" has no \"datatype\"");
            string expected = DataTypeName(spec.DataType);
            if (datatype != expected) throw ApiError.BadRequest($"input \"{name}\" has datatype {datatype}; the model expects {expected}");
            if (!input.TryGetProperty("shape", out var s) || s.ValueKind != JsonValueKind.Array || s.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.Number || !x.TryGetInt64(out long v) || v < 0))
                throw ApiError.BadRequest($"input \"{name}\" needs a \"shape\" array of non-negative integers");
            long[] shape = [.. s.EnumerateArray().Select(x => x.GetInt64())];
            bool fits = shape.Length == spec.Rank && shape.Select((dim, i) => spec.IsDynamic(i) || spec.Dims[i] == dim).All(ok => ok);
            if (!fits) throw ApiError.BadRequest($"input \"{name}\" has shape [{string.Join(",", shape)}]; the model expects {Shape(spec)}");
            long count = shape.Aggregate(1L, (a, b) => checked(a * b));
            if (!input.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array) throw ApiError.BadRequest($"input \"{name}\" has no \"data\" array");
            var flat = new List<JsonElement>();
            Flatten(data, flat, count, name);
            if (flat.Count != count) throw ApiError.BadRequest($"input \"{name}\" has {flat.Count} values; shape [{string.Join(",", shape)}] holds {count}");
            result[name] = spec.DataType switch
            {
                TensorDataType.Float32 => new NamedTensor(flat.Select(e => Number<float>(e, name, x => x.TryGetSingle(out float f) ? f : null)).ToArray(), shape),
                TensorDataType.Float64 => new NamedTensor(flat.Select(e => Number<double>(e, name, x => x.TryGetDouble(out double f) ? f : null)).ToArray(), shape),
                TensorDataType.Int64 => new NamedTensor(flat.Select(e => Number<long>(e, name, x => x.TryGetInt64(out long f) ? f : null)).ToArray(), shape),
                TensorDataType.Int32 => new NamedTensor(flat.Select(e => Number<int>(e, name, x => x.TryGetInt32(out int f) ? f : null)).ToArray(), shape),
                TensorDataType.UInt8 => new NamedTensor(flat.Select(e => Number<byte>(e, name, x => x.TryGetByte(out byte f) ? f : null)).ToArray(), shape),
                _ => throw ApiError.BadRequest($"input \"{name}\" has an element type serving does not support ({spec.TypeName})"),
            };
        }
        var missing = specs.Where(sp => !result.ContainsKey(sp.Name)).Select(sp => sp.Name).ToList();
        if (missing.Count > 0) throw ApiError.BadRequest($"missing input {string.Join(", ", missing.Select(m => $"\"{m}\""))}");
        if (result.Count > 1 && result.Values.Select(t => t.Shape[0]).Distinct().Count() > 1)
            throw ApiError.BadRequest("all inputs must have the same first (batch) dimension");
        return result;
    }

    static T Number<T>(JsonElement e, string name, Func<JsonElement, T?> read) where T : struct =>
        e.ValueKind == JsonValueKind.Number && read(e) is T v ? v : throw ApiError.BadRequest($"input \"{name}\" holds {e.GetRawText()}, which is not a {typeof(T).Name} value");

    static void Flatten(JsonElement e, List<JsonElement> into, long limit, string name)
    {
        if (e.ValueKind != JsonValueKind.Array) { into.Add(e); return; }
        foreach (var item in e.EnumerateArray())
        {
            if (into.Count > limit) throw ApiError.BadRequest($"input \"{name}\" has more values than its shape holds ({limit})");
            Flatten(item, into, limit, name);
        }
    }

    static string Shape(TensorSpec spec) => $"[{string.Join(",", spec.Dims.Select(d => d < 0 ? "-1" : d.ToString()))}]";

    public static void WriteSpec(Utf8JsonWriter w, TensorSpec spec)
    {
        w.WriteStartObject();
        w.WriteString("name", spec.Name);
        w.WriteString("datatype", DataTypeName(spec.DataType));
        w.WriteStartArray("shape");
        foreach (long d in spec.Dims) w.WriteNumberValue(d);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static void WriteTensor(Utf8JsonWriter w, string name, NamedTensor t)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WriteString("datatype", DataTypeName(t.DataType));
        w.WriteStartArray("shape");
        foreach (long d in t.Shape) w.WriteNumberValue(d);
        w.WriteEndArray();
        w.WriteStartArray("data");
        switch (t.Data)
        {
            case float[] f: foreach (float v in f) w.WriteNumberValue(v); break;
            case double[] f: foreach (double v in f) w.WriteNumberValue(v); break;
            case long[] f: foreach (long v in f) w.WriteNumberValue(v); break;
            case int[] f: foreach (int v in f) w.WriteNumberValue(v); break;
            case byte[] f: foreach (byte v in f) w.WriteNumberValue(v); break;
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Concatenates tensors of one type along axis 0.</summary>
    public static NamedTensor Concat(IReadOnlyList<NamedTensor> parts)
    {
        long[] shape = [.. parts[0].Shape];
        shape[0] = parts.Sum(p => p.Shape[0]);
        Array data = Array.CreateInstance(parts[0].Data.GetType().GetElementType()!, parts.Sum(p => p.Data.LongLength));
        long at = 0;
        foreach (var p in parts)
        {
            Array.Copy(p.Data, 0, data, at, p.Data.LongLength);
            at += p.Data.LongLength;
        }
        return Make(data, shape);
    }

    /// <summary>Rows [<paramref name="start"/>, start + <paramref name="rows"/>) of <paramref name="t"/> along axis 0.</summary>
    public static NamedTensor Slice(NamedTensor t, long start, long rows)
    {
        long per = t.Shape[0] == 0 ? 0 : t.Data.LongLength / t.Shape[0];
        long[] shape = [.. t.Shape];
        shape[0] = rows;
        Array data = Array.CreateInstance(t.Data.GetType().GetElementType()!, rows * per);
        Array.Copy(t.Data, start * per, data, 0, rows * per);
        return Make(data, shape);
    }

    static NamedTensor Make(Array data, long[] shape) => data switch
    {
        float[] f => new NamedTensor(f, shape),
        double[] f => new NamedTensor(f, shape),
        long[] f => new NamedTensor(f, shape),
        int[] f => new NamedTensor(f, shape),
        byte[] f => new NamedTensor(f, shape),
        _ => throw new NotSupportedException($"tensor of {data.GetType()}"),
    };
}
