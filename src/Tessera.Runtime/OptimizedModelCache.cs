using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.OnnxRuntime;
using Tessera.Formats;

namespace Tessera.Runtime;

/// <summary>
/// Keeps ONNX Runtime's optimized graph on disk (<c>optimized_model_filepath</c>) with a stamp file beside it, so a
/// later load of the same source skips graph optimization. The stamp records the source's size, modification time
/// and SHA-256, the optimization level and the ONNX Runtime version; a cache is reused only when all of those
/// match (a touched but identical file still matches by hash).
/// </summary>
internal static class OptimizedModelCache
{
    internal sealed record Stamp(
        [property: JsonPropertyName("source")] string Source,
        [property: JsonPropertyName("size")] long Size,
        [property: JsonPropertyName("mtime_utc_ticks")] long MtimeTicks,
        [property: JsonPropertyName("sha256")] string Sha256,
        [property: JsonPropertyName("level")] string Level,
        [property: JsonPropertyName("ort_version")] string OrtVersion);

    public static string StampPath(string cachePath) => cachePath + ".stamp";

    /// <summary>Creates the session, from the cache when it is valid; <paramref name="fromCache"/> says which happened.</summary>
    public static InferenceSession CreateSession(string modelPath, OnnxSessionOptions options, Func<string, SessionOptions, InferenceSession> open, out bool fromCache)
    {
        string cachePath = Path.GetFullPath(options.OptimizedModelCachePath!);
        var source = new FileInfo(modelPath);
        string level = options.GraphOptimizationLevel.ToString();
        string ortVersion = OrtEnv.Instance().GetVersionString();

        if (File.Exists(cachePath) && ReadStamp(cachePath) is { } stamp && stamp.Size == source.Length
            && stamp.Level == level && stamp.OrtVersion == ortVersion
            && (stamp.MtimeTicks == source.LastWriteTimeUtc.Ticks || stamp.Sha256 == Sha256(modelPath)))
        {
            try
            {
                // The cached graph is already optimized: loading it with optimizations off is the point of the cache.
                using var cachedOptions = OrtConversions.ToSessionOptions(options, skipOptimization: true);
                var session = open(cachePath, cachedOptions);
                fromCache = true;
                return session;
            }
            catch (OnnxRuntimeException)
            {
                // A corrupt cache is rebuilt below rather than failing the load.
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(cachePath)!);
        string temp = cachePath + $".{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        using var so = OrtConversions.ToSessionOptions(options);
        so.OptimizedModelFilePath = temp;
        var fresh = open(modelPath, so);
        try
        {
            if (File.Exists(temp))
            {
                File.Move(temp, cachePath, overwrite: true);
                var newStamp = new Stamp(source.FullName, source.Length, source.LastWriteTimeUtc.Ticks, Sha256(modelPath), level, ortVersion);
                AtomicFile.WriteAllText(StampPath(cachePath), JsonSerializer.Serialize(newStamp) + "\n");
            }
        }
        catch (IOException)
        {
            // Another process may be writing the same cache; the session is valid either way.
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        fromCache = false;
        return fresh;
    }

    static Stamp? ReadStamp(string cachePath)
    {
        try
        {
            string path = StampPath(cachePath);
            return File.Exists(path) ? JsonSerializer.Deserialize<Stamp>(File.ReadAllText(path)) : null;
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            return null;
        }
    }

    static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
