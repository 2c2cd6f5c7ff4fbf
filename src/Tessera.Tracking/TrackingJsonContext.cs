using System.Text.Json.Serialization;

namespace Tessera.Tracking;

[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(IReadOnlyList<string>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
partial class TrackingJsonContext : JsonSerializerContext;
