using System.Text.Json;
using Tessera.Formats;

namespace Tessera.Text.Generation;

/// <summary>
/// What generation needs from a model's <c>config.json</c>: its special token ids, context length and vocabulary size.
/// Read leniently, for any <c>model_type</c> (a folder exported by Hugging Face Optimum may name an architecture
/// Tessera does not model); every other field is ignored. The strict, typed reading is <c>PretrainedConfig.Load</c>.
/// </summary>
/// <param name="SpecialTokenIds"><c>eos_token_id</c> (a number or a list), <c>bos_token_id</c>, <c>pad_token_id</c>.</param>
/// <param name="MaxPositions"><c>n_positions</c>, <c>max_position_embeddings</c> or <c>n_ctx</c>, the first present; null when none is.</param>
/// <param name="VocabSize"><c>vocab_size</c>, or null.</param>
public sealed record ModelConfigInfo(SpecialTokenIds SpecialTokenIds, int? MaxPositions, int? VocabSize)
{
    /// <summary>The file name <see cref="Load"/> reads in a folder.</summary>
    public const string FileName = "config.json";

    /// <summary>Nothing known: what <see cref="Load"/> returns when there is no config.json.</summary>
    public static ModelConfigInfo Empty { get; } = new(SpecialTokenIds.None, null, null);

    /// <summary>Reads <c>config.json</c> in <paramref name="folderOrFile"/> (or that file); <see cref="Empty"/> when it does not exist.</summary>
    /// <exception cref="TesseraFormatException">The file is not a JSON object, or a field read here has the wrong type; the message names the file and the field.</exception>
    public static ModelConfigInfo Load(string folderOrFile)
    {
        ArgumentNullException.ThrowIfNull(folderOrFile);
        string file = Directory.Exists(folderOrFile) ? Path.Combine(folderOrFile, FileName) : folderOrFile;
        return File.Exists(file) ? Parse(File.ReadAllText(file), file) : Empty;
    }

    /// <summary>Parses config.json text; see <see cref="Load"/>.</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="sourceName">Name used in error messages (a path), or null.</param>
    /// <exception cref="TesseraFormatException">As for <see cref="Load"/>.</exception>
    public static ModelConfigInfo Parse(string json, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new TesseraFormatException(sourceName, $"expected a JSON object, found {root.ValueKind}");
            var ids = new SpecialTokenIds(Ids(root, "eos_token_id", sourceName), Int(root, "bos_token_id", sourceName), Int(root, "pad_token_id", sourceName));
            int? positions = Int(root, "n_positions", sourceName) ?? Int(root, "max_position_embeddings", sourceName) ?? Int(root, "n_ctx", sourceName);
            return new ModelConfigInfo(ids, positions, Int(root, "vocab_size", sourceName));
        }
        catch (JsonException e)
        {
            throw new TesseraFormatException(sourceName, $"invalid JSON: {e.Message}", e);
        }
    }

    static int? Int(JsonElement root, string field, string? source)
    {
        if (!root.TryGetProperty(field, out JsonElement v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
            : throw new TesseraFormatException(source, $"\"{field}\" must be an integer, got {v.GetRawText()}");
    }

    static IReadOnlyList<int> Ids(JsonElement root, string field, string? source)
    {
        if (!root.TryGetProperty(field, out JsonElement v) || v.ValueKind == JsonValueKind.Null) return [];
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int one)) return [one];
        if (v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _)))
            return [.. v.EnumerateArray().Select(e => e.GetInt32())];
        throw new TesseraFormatException(source, $"\"{field}\" must be a token id or a list of them, got {v.GetRawText()}");
    }
}
