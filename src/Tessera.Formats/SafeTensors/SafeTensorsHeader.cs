using System.Buffers.Binary;
using System.Text.Json;

namespace Tessera.Formats.SafeTensors;

/// <summary>Reads and validates a safetensors header; shared by <see cref="SafeTensorsFile"/> and <see cref="SafeTensorsFile.ReadHeader"/>.</summary>
internal static class SafeTensorsHeader
{
    /// <summary>Largest header accepted, as in the reference implementation (100 MB).</summary>
    internal const long MaxHeaderBytes = 100_000_000;

    internal const string MetadataKey = "__metadata__";

    internal sealed record Parsed(long HeaderLength, IReadOnlyList<SafeTensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata)
    {
        /// <summary>Absolute file offset where the data section starts.</summary>
        public long DataStart => 8 + HeaderLength;
    }

    /// <summary>Reads the 8-byte length prefix and the JSON header from <paramref name="stream"/> (positioned at 0).</summary>
    internal static Parsed Read(Stream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw new TesseraFormatException(path, $"file is {fileLength} bytes; a safetensors file starts with an 8-byte header length");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n == 0)
            throw new TesseraFormatException(path, "header length is 0; expected a JSON header of at least 2 bytes");
        if (n > MaxHeaderBytes)
            throw new TesseraFormatException(path, $"header length {n} exceeds the limit of {MaxHeaderBytes} bytes");
        if ((long)n > fileLength - 8)
            throw new TesseraFormatException(path, $"header length {n} exceeds the {fileLength - 8} bytes that follow the length prefix (file is truncated or not safetensors)");
        byte[] json = new byte[(int)n];
        stream.ReadExactly(json);
        return Parse(json, (long)n, fileLength - 8 - (long)n, path);
    }

    static Parsed Parse(byte[] json, long headerLength, long dataLength, string path)
    {
        // JsonDocument checks UTF-8 only when a string is read (then throwing InvalidOperationException): check it all first.
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new TesseraFormatException(path, "header is not valid UTF-8 text");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new TesseraFormatException(path, $"header is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new TesseraFormatException(path, $"header must be a JSON object, found {Describe(root.ValueKind)}");

            var tensors = new List<SafeTensorInfo>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            IReadOnlyDictionary<string, string> metadata = new Dictionary<string, string>();
            bool sawMetadata = false;
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    if (sawMetadata)
                        throw new TesseraFormatException(path, $"header has '{MetadataKey}' more than once");
                    sawMetadata = true;
                    metadata = ParseMetadata(property.Value, path);
                    continue;
                }
                if (!names.Add(property.Name))
                    throw new TesseraFormatException(path, $"tensor '{property.Name}' appears more than once in the header");
                tensors.Add(ParseTensor(property.Name, property.Value, dataLength, path));
            }
            CheckLayout(tensors, dataLength, path);
            return new Parsed(headerLength, tensors, metadata);
        }
    }

    static Dictionary<string, string> ParseMetadata(JsonElement value, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new TesseraFormatException(path, $"'{MetadataKey}' must be an object of strings, found {Describe(value.ValueKind)}");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new TesseraFormatException(path, $"'{MetadataKey}' entry '{entry.Name}' must be a string, found {Describe(entry.Value.ValueKind)}");
            if (!map.TryAdd(entry.Name, entry.Value.GetString()!))
                throw new TesseraFormatException(path, $"'{MetadataKey}' has key '{entry.Name}' more than once");
        }
        return map;
    }

    static SafeTensorInfo ParseTensor(string name, JsonElement value, long dataLength, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new TesseraFormatException(path, $"tensor '{name}': expected an object with dtype, shape and data_offsets, found {Describe(value.ValueKind)}");

        if (!value.TryGetProperty("dtype", out JsonElement dtypeElement))
            throw new TesseraFormatException(path, $"tensor '{name}': missing 'dtype'");
        if (dtypeElement.ValueKind != JsonValueKind.String)
            throw new TesseraFormatException(path, $"tensor '{name}': 'dtype' must be a string, found {Describe(dtypeElement.ValueKind)}");
        string dtypeName = dtypeElement.GetString()!;
        if (!SafeTensorDTypes.TryParse(dtypeName, out SafeTensorDType dtype))
            throw new TesseraFormatException(path, $"tensor '{name}': unknown dtype '{dtypeName}'; expected one of {string.Join(", ", SafeTensorDTypes.SupportedNames)}");

        if (!value.TryGetProperty("shape", out JsonElement shapeElement))
            throw new TesseraFormatException(path, $"tensor '{name}': missing 'shape'");
        if (shapeElement.ValueKind != JsonValueKind.Array)
            throw new TesseraFormatException(path, $"tensor '{name}': 'shape' must be an array of non-negative integers, found {Describe(shapeElement.ValueKind)}");
        var shape = new long[shapeElement.GetArrayLength()];
        long elements = 1;
        int i = 0;
        foreach (JsonElement dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long d) || d < 0)
                throw new TesseraFormatException(path, $"tensor '{name}': shape[{i}] is {dim.GetRawText()}; expected a non-negative integer");
            shape[i++] = d;
            try { elements = checked(elements * d); }
            catch (OverflowException)
            {
                throw new TesseraFormatException(path, $"tensor '{name}': shape [{string.Join(", ", shapeElement.EnumerateArray().Select(e => e.GetRawText()))}] has more elements than fit in 64 bits");
            }
        }

        if (!value.TryGetProperty("data_offsets", out JsonElement offsets))
            throw new TesseraFormatException(path, $"tensor '{name}': missing 'data_offsets'");
        if (offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw new TesseraFormatException(path, $"tensor '{name}': 'data_offsets' must be [begin, end], found {offsets.GetRawText()}");
        long begin = ReadOffset(offsets[0], name, "begin", path);
        long end = ReadOffset(offsets[1], name, "end", path);
        if (begin > end)
            throw new TesseraFormatException(path, $"tensor '{name}': data_offsets [{begin}, {end}] has begin after end");
        if (end > dataLength)
            throw new TesseraFormatException(path, $"tensor '{name}': data_offsets [{begin}, {end}] run past the end of the {dataLength}-byte data section");

        long expected;
        try { expected = checked(elements * dtype.ElementSize()); }
        catch (OverflowException)
        {
            throw new TesseraFormatException(path, $"tensor '{name}': {elements} elements of {dtype.HeaderName()} overflow a 64-bit byte count");
        }
        if (end - begin != expected)
            throw new TesseraFormatException(path, $"tensor '{name}': data_offsets [{begin}, {end}] span {end - begin} bytes but dtype {dtype.HeaderName()} with shape [{string.Join(", ", shape)}] needs {expected}");

        return new SafeTensorInfo(name, dtype, shape, begin, expected);
    }

    static long ReadOffset(JsonElement element, string name, string which, string path)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out long v) || v < 0)
            throw new TesseraFormatException(path, $"tensor '{name}': data_offsets {which} is {element.GetRawText()}; expected a non-negative integer");
        return v;
    }

    /// <summary>The spec requires the tensors to tile the data section: no overlap, no gap, nothing left over.</summary>
    static void CheckLayout(List<SafeTensorInfo> tensors, long dataLength, string path)
    {
        var sorted = tensors.OrderBy(t => t.DataOffset).ThenBy(t => t.ByteLength).ToList();
        long cursor = 0;
        SafeTensorInfo? previous = null;
        foreach (SafeTensorInfo t in sorted)
        {
            if (t.DataOffset < cursor)
                throw new TesseraFormatException(path, $"tensor '{t.Name}' (bytes {t.DataOffset}..{t.DataOffset + t.ByteLength}) overlaps tensor '{previous!.Name}' (bytes {previous.DataOffset}..{cursor})");
            if (t.DataOffset > cursor)
                throw new TesseraFormatException(path, $"gap in the data section: bytes {cursor}..{t.DataOffset} before tensor '{t.Name}' belong to no tensor");
            cursor = t.DataOffset + t.ByteLength;
            if (t.ByteLength > 0 || previous is null) previous = t;
        }
        if (cursor != dataLength)
            throw new TesseraFormatException(path, $"data section is {dataLength} bytes but the tensors cover only {cursor}; bytes {cursor}..{dataLength} belong to no tensor");
    }

    static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };
}
