using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Tessera.Checkpoints;
using Tessera.Formats;
using Tessera.Formats.SafeTensors;
using Tessera.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// Reads and writes the weights of Hugging Face model folders: <c>model.safetensors</c>, or shards listed by the
/// <c>weight_map</c> of <c>model.safetensors.index.json</c>.
/// </summary>
/// <remarks>
/// Loading validates every header first, then reads each tensor's bytes from the file straight into the parameter's
/// memory (or, when the dtypes differ, through one temporary tensor of that single tensor's size), so peak memory is
/// the model plus its largest tensor, never two copies of the checkpoint.
/// </remarks>
public static class PretrainedWeights
{
    /// <summary>File name of a single-file checkpoint.</summary>
    public const string WeightsName = "model.safetensors";

    /// <summary>File name of the index of a sharded checkpoint.</summary>
    public const string IndexName = "model.safetensors.index.json";

    /// <summary>Default largest shard, 5 GB, as <c>save_pretrained</c>.</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    const long ChunkBytes = 1L << 30;

    /// <summary>
    /// The tensors of a checkpoint, by name: the file each lives in and its header entry. <paramref name="path"/> is a
    /// model folder (<c>model.safetensors</c> preferred, else <c>model.safetensors.index.json</c>), a safetensors file,
    /// or an index file. Every header is validated.
    /// </summary>
    /// <exception cref="FileNotFoundException">No weights file; the message names the folder and the files looked for.</exception>
    /// <exception cref="TesseraFormatException">A header or the index is invalid, or the index names a tensor its shard lacks.</exception>
    public static IReadOnlyDictionary<string, (string File, SafeTensorInfo Info)> ReadIndex(string path)
    {
        string file = path;
        if (Directory.Exists(path))
        {
            file = Path.Combine(path, WeightsName);
            if (!File.Exists(file)) file = Path.Combine(path, IndexName);
            if (!File.Exists(file))
                throw new FileNotFoundException($"{path}: no weights found (looked for {WeightsName} and {IndexName})", Path.Combine(path, WeightsName));
        }
        else if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file", path);

        var result = new Dictionary<string, (string, SafeTensorInfo)>(StringComparer.Ordinal);
        if (!file.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            foreach (SafeTensorInfo info in SafeTensorsFile.ReadHeader(file)) result[info.Name] = (file, info);
            return result;
        }

        Dictionary<string, string> weightMap = ReadWeightMap(file);
        string dir = Path.GetDirectoryName(Path.GetFullPath(file))!;
        foreach (var group in weightMap.GroupBy(kv => kv.Value, StringComparer.Ordinal))
        {
            string shard = Path.Combine(dir, group.Key);
            if (!File.Exists(shard))
                throw new TesseraFormatException(file, $"weight_map names shard \"{group.Key}\" but {shard} does not exist");
            var header = SafeTensorsFile.ReadHeader(shard).ToDictionary(t => t.Name, StringComparer.Ordinal);
            foreach (var (name, _) in group)
            {
                if (!header.TryGetValue(name, out SafeTensorInfo? info))
                    throw new TesseraFormatException(file, $"weight_map puts tensor '{name}' in \"{group.Key}\" but that shard has no such tensor");
                result[name] = (shard, info);
            }
        }
        return result;
    }

    static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
                throw new TesseraFormatException(indexPath, "missing \"weight_map\" object");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new TesseraFormatException(indexPath, $"weight_map[\"{p.Name}\"] must be a file name, found {p.Value.ValueKind}");
                string shard = p.Value.GetString()!;
                if (shard.Length == 0 || Path.GetFileName(shard) != shard || shard is "." or "..")
                    throw new TesseraFormatException(indexPath, $"weight_map[\"{p.Name}\"] = \"{shard}\" is not a file name in the model folder");
                result[p.Name] = shard;
            }
            return result;
        }
        catch (JsonException e)
        {
            throw new TesseraFormatException(indexPath, $"invalid JSON: {e.Message}", e);
        }
    }

    /// <summary>
    /// THE safetensors-to-module loader: copies a checkpoint (a model folder, a safetensors file or a sharded index; see
    /// <see cref="ReadIndex"/>) into <paramref name="module"/>'s parameters and buffers, one tensor at a time, without
    /// recording gradients. Everything is checked before anything is copied, so a failed load leaves the module unchanged.
    /// </summary>
    /// <remarks>
    /// Keys are matched exactly, then, for an <see cref="IPretrainedModel"/> with a <see cref="IPretrainedModel.BaseModelPrefix"/>,
    /// with that prefix added or removed (a head's checkpoint loads into the base model and the other way round), then
    /// with TF-era names (<c>gamma</c>/<c>beta</c>) renamed to <c>weight</c>/<c>bias</c>. Shapes must be equal; floating-point
    /// tensors are converted to the parameter's type (other dtypes must be equal). A checkpoint tensor that fills nothing is
    /// an error (a config smaller than its weights must not load silently) unless the model declares it ignorable
    /// (<see cref="IPretrainedModel.IsIgnoredCheckpointKey"/>), it belongs to another head of a head checkpoint (outside
    /// the base-model prefix), or <see cref="FromPretrainedOptions.AllowUnexpectedKeys"/> is set.
    /// </remarks>
    /// <param name="module">The module to fill.</param>
    /// <param name="path">A model folder, safetensors file or <c>model.safetensors.index.json</c>.</param>
    /// <param name="options">Missing/unexpected key policy; the defaults (both are errors) when null.</param>
    /// <returns>What was missing, skipped and converted.</returns>
    /// <exception cref="TesseraFormatException">A shape or dtype differs (the message names the file, the tensor and both shapes), parameters are missing, or tensors are left unused; the message names the file.</exception>
    /// <exception cref="FileNotFoundException">There are no weights at <paramref name="path"/>.</exception>
    public static LoadReport LoadInto(nn.Module module, string path, FromPretrainedOptions? options = null) =>
        LoadInto(module, path, ReadIndex(path), options ?? new FromPretrainedOptions());

    internal static LoadReport LoadInto(nn.Module module, string path, IReadOnlyDictionary<string, (string File, SafeTensorInfo Info)> index, FromPretrainedOptions options)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(options);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors stores little-endian data");
        Dictionary<string, Tensor> state = module.state_dict();
        var pretrained = module as IPretrainedModel;
        string prefix = pretrained?.BaseModelPrefix is { Length: > 0 } p ? p + "." : "";
        bool headCheckpoint = prefix.Length > 0 && index.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal));

        var plan = new List<(string Key, string File, SafeTensorInfo Info, Tensor Target)>();
        var unexpected = new List<string>();
        var unused = new List<string>();
        var filled = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, (file, info)) in index)
        {
            string? key = Match(name, state, prefix) ?? (pretrained?.CheckpointKey(name) is { } renamed && renamed != name ? Match(renamed, state, prefix) : null);
            if (key is null || filled.Contains(key))
            {
                if (pretrained?.IsIgnoredCheckpointKey(name) == true) continue;
                unexpected.Add(name);
                // In a head's checkpoint, tensors outside the base model belong to that head (or another one) and are skipped.
                if (!(headCheckpoint && !name.StartsWith(prefix, StringComparison.Ordinal))) unused.Add(name);
                continue;
            }
            Tensor target = state[key];
            if (!info.Shape.SequenceEqual(target.shape))
                throw new TesseraFormatException(file, $"tensor '{name}' has shape [{string.Join(", ", info.Shape)}] but parameter '{key}' expects [{string.Join(", ", target.shape)}]");
            ScalarType source = SafeTensorsTorch.ToTorch(info.DType);
            if (source != target.dtype && !(IsFloat(source) && IsFloat(target.dtype)))
                throw new TesseraFormatException(file, $"tensor '{name}' has dtype {info.DType} but parameter '{key}' is {target.dtype}; only floating-point types convert");
            filled.Add(key);
            plan.Add((key, file, info, target));
        }
        var missing = state.Keys.Where(k => !filled.Contains(k)).ToList();
        if (missing.Count > 0 && !options.AllowMissingKeys)
            throw new TesseraFormatException(path, $"the checkpoint has no tensor for {missing.Count} parameter(s): {List(missing)}");
        if (unused.Count > 0 && !options.AllowUnexpectedKeys)
            throw new TesseraFormatException(path, $"the checkpoint has {unused.Count} tensor(s) the model does not use (does config.json match the weights?): {List(unused)}");

        var converted = new List<string>();
        using (no_grad())
        {
            foreach (var byFile in plan.GroupBy(p => p.File))
            {
                using SafeFileHandle handle = File.OpenHandle(byFile.Key, FileMode.Open, FileAccess.Read, FileShare.Read);
                long dataStart = DataStart(handle, byFile.Key);
                foreach (var (key, file, info, target) in byFile)
                {
                    if (ReadTensor(handle, dataStart + info.DataOffset, info, target, file)) converted.Add(key);
                }
            }
        }
        return new LoadReport(missing, unexpected, converted);
    }

    static string List(List<string> names) => string.Join(", ", names.Take(20)) + (names.Count > 20 ? ", ..." : "");

    /// <summary>The module key a checkpoint key fills, or null.</summary>
    static string? Match(string name, Dictionary<string, Tensor> state, string prefix)
    {
        foreach (string candidate in new[] { name, RenameLegacy(name) })
        {
            if (state.ContainsKey(candidate)) return candidate;
            if (prefix.Length == 0) continue;
            if (state.ContainsKey(prefix + candidate)) return prefix + candidate;
            if (candidate.StartsWith(prefix, StringComparison.Ordinal) && state.ContainsKey(candidate[prefix.Length..])) return candidate[prefix.Length..];
        }
        return null;
    }

    /// <summary>Old TensorFlow-converted checkpoints name LayerNorm parameters gamma and beta.</summary>
    static string RenameLegacy(string name) =>
        name.EndsWith(".gamma", StringComparison.Ordinal) ? name[..^6] + ".weight"
        : name.EndsWith(".beta", StringComparison.Ordinal) ? name[..^5] + ".bias"
        : name;

    static bool IsFloat(ScalarType t) => t is ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64;

    static long DataStart(SafeFileHandle handle, string file)
    {
        Span<byte> prefix = stackalloc byte[8];
        if (RandomAccess.Read(handle, prefix, 0) != 8) throw new TesseraFormatException(file, "file shorter than its 8-byte header length");
        return 8 + (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(prefix);
    }

    /// <summary>Fills <paramref name="target"/> from the file; returns whether the dtype was converted.</summary>
    static bool ReadTensor(SafeFileHandle handle, long offset, SafeTensorInfo info, Tensor target, string file)
    {
        ScalarType source = SafeTensorsTorch.ToTorch(info.DType);
        bool direct = source == target.dtype && target.device_type == DeviceType.CPU && target.is_contiguous();
        if (direct)
        {
            ReadInto(handle, offset, target, file);
            return false;
        }
        using var scope = NewDisposeScope();
        Tensor staging = empty(info.Shape, source, CPU);
        ReadInto(handle, offset, staging, file);
        target.copy_(staging);
        return source != target.dtype;
    }

    /// <summary>Reads the bytes of contiguous CPU tensor <paramref name="destination"/> from <paramref name="offset"/>, in chunks of at most 1 GB.</summary>
    static void ReadInto(SafeFileHandle handle, long offset, Tensor destination, string file)
    {
        long total = destination.numel() * destination.ElementSize;
        if (total == 0) return;
        using Tensor flat = destination.view(-1);
        long perChunk = ChunkBytes / destination.ElementSize;
        for (long start = 0; start < flat.numel(); start += perChunk)
        {
            using Tensor piece = flat.narrow(0, start, Math.Min(perChunk, flat.numel() - start));
            Span<byte> span = piece.bytes;
            long at = offset + start * destination.ElementSize;
            while (span.Length > 0)
            {
                int n = RandomAccess.Read(handle, span, at);
                if (n <= 0) throw new TesseraFormatException(file, $"file ends inside a tensor (at byte {at})");
                span = span[n..];
                at += n;
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="model"/>'s state_dict into <paramref name="folder"/> with metadata <c>{"format":"pt"}</c>:
    /// <c>model.safetensors</c>, or <c>model-0000k-of-0000n.safetensors</c> shards plus <c>model.safetensors.index.json</c>
    /// when the total exceeds <paramref name="maxShardBytes"/>. The other layout's files, if present, are removed.
    /// </summary>
    public static void Save(nn.Module model, string folder, long maxShardBytes = DefaultMaxShardBytes, ScalarType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxShardBytes, 1);
        var tensors = model.state_dict().ToList();
        var shards = new List<List<KeyValuePair<string, Tensor>>> { new() };
        long shardSize = 0, totalSize = 0;
        foreach (var kv in tensors)
        {
            long bytes = kv.Value.numel() * ElementSize(SavedType(kv.Value, dtype));
            if (shardSize > 0 && shardSize + bytes > maxShardBytes)
            {
                shards.Add(new());
                shardSize = 0;
            }
            shards[^1].Add(kv);
            shardSize += bytes;
            totalSize += bytes;
        }

        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        string single = Path.Combine(folder, WeightsName), indexPath = Path.Combine(folder, IndexName);
        if (shards.Count == 1)
        {
            WriteShard(single, shards[0], dtype, metadata);
            RemoveShardedLayout(indexPath);
            return;
        }
        RemoveShardedLayout(indexPath);
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            WriteShard(Path.Combine(folder, name), shards[i], dtype, metadata);
            foreach (var kv in shards[i]) weightMap[kv.Key] = name;
        }
        string json = JsonSerializer.Serialize(new { metadata = new { total_size = totalSize }, weight_map = weightMap }, new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.WriteAllText(indexPath, json + "\n");
        if (File.Exists(single)) File.Delete(single);
    }

    /// <summary>Writes <paramref name="model"/>'s state_dict as one safetensors file at <paramref name="path"/> (metadata <c>{"format":"pt"}</c>), atomically.</summary>
    public static void SaveFile(nn.Module model, string path, ScalarType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        WriteShard(path, model.state_dict().ToList(), dtype, new Dictionary<string, string> { ["format"] = "pt" });
    }

    static void RemoveShardedLayout(string indexPath)
    {
        if (!File.Exists(indexPath)) return;
        try
        {
            foreach (string shard in ReadWeightMap(indexPath).Values.Distinct())
            {
                string p = Path.Combine(Path.GetDirectoryName(indexPath)!, shard);
                if (File.Exists(p)) File.Delete(p);
            }
        }
        catch (TesseraFormatException) { }
        File.Delete(indexPath);
    }

    static ScalarType SavedType(Tensor t, ScalarType? dtype) => dtype is { } d && IsFloat(t.dtype) ? d : t.dtype;

    static int ElementSize(ScalarType t) => SafeTensorsTorch.ToSafeTensors(t).ElementSize();

    static void WriteShard(string path, List<KeyValuePair<string, Tensor>> tensors, ScalarType? dtype, Dictionary<string, string> metadata)
    {
        var entries = tensors.Select(kv =>
        {
            ScalarType type = SavedType(kv.Value, dtype);
            return new SafeTensorEntry(kv.Key, SafeTensorsTorch.ToSafeTensors(type), kv.Value.shape, stream =>
            {
                using var scope = NewDisposeScope();
                Tensor cpu = kv.Value.detach().cpu().to_type(type).contiguous();
                if (cpu.numel() == 0) return;
                using Tensor flat = cpu.view(-1);
                long perChunk = ChunkBytes / cpu.ElementSize;
                for (long start = 0; start < flat.numel(); start += perChunk)
                {
                    using Tensor piece = flat.narrow(0, start, Math.Min(perChunk, flat.numel() - start));
                    stream.Write(piece.bytes);
                }
            });
        }).ToList();
        SafeTensorsWriter.Write(path, entries, metadata);
    }

    /// <summary>The <c>torch_dtype</c> string of a scalar type (<c>float32</c>, <c>float16</c>, <c>bfloat16</c>, ...).</summary>
    public static string TorchDtypeName(ScalarType type) => type switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float64 => "float64",
        _ => type.ToString().ToLowerInvariant(),
    };

    /// <summary>The scalar type a <c>torch_dtype</c> string names, or null when it is absent or not a floating-point type.</summary>
    public static ScalarType? ParseTorchDtype(string? name) => name switch
    {
        "float32" or "float" => ScalarType.Float32,
        "float16" or "half" => ScalarType.Float16,
        "bfloat16" => ScalarType.BFloat16,
        "float64" or "double" => ScalarType.Float64,
        _ => null,
    };
}
