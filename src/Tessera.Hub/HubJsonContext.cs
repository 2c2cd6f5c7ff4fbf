using System.Text.Json.Serialization;

namespace Tessera.Hub;

[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = false)]
[JsonSerializable(typeof(ModelInfo))]
internal sealed partial class HubJsonContext : JsonSerializerContext;
