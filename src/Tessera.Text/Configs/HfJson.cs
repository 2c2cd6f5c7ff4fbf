using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Transformers;

/// <summary>JSON settings for the Hugging Face config files (config.json, generation_config.json): lenient reading as
/// Python's json module writes (NaN/Infinity, trailing commas), indented writing without nulls.</summary>
internal static class HfJson
{
    public static readonly JsonSerializerOptions Write = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static readonly JsonSerializerOptions Read = new()
    {
        AllowTrailingCommas = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
