using System.Text.Json.Serialization;

namespace Tessera.Hub;

[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = false)]
[JsonSerializable(typeof(ModelInfo))]
[JsonSerializable(typeof(HubDatasetInfo))]
internal sealed partial class HubJsonContext : JsonSerializerContext;
