using System.Text.Json.Serialization;

namespace Tessera.Hub;

/// <summary>A model repository at one revision, as <c>GET /api/models/{repo}/revision/{revision}</c> returns it.</summary>
public sealed record ModelInfo : HubRepoInfo
{
    /// <summary>The library the model is published for, e.g. <c>transformers</c>.</summary>
    [JsonPropertyName("library_name")]
    public string? LibraryName { get; init; }

    /// <summary>The task, e.g. <c>text-generation</c>.</summary>
    [JsonPropertyName("pipeline_tag")]
    public string? PipelineTag { get; init; }
}
