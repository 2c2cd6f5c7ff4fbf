namespace Tessera.Hub;

/// <summary>The kind of a Hub repository; it picks the API path, the file URL prefix and the cache folder prefix.</summary>
public enum RepoType
{
    /// <summary>A model repository: <c>/api/models/{id}</c>, <c>/{id}/resolve/...</c>, cache folder <c>models--org--name</c>.</summary>
    Model,

    /// <summary>A dataset repository: <c>/api/datasets/{id}</c>, <c>/datasets/{id}/resolve/...</c>, cache folder <c>datasets--org--name</c>.</summary>
    Dataset,
}

/// <summary>The Hub's spellings of each <see cref="RepoType"/>.</summary>
public static class RepoTypes
{
    /// <summary>The plural used in API paths and cache folder names: <c>models</c>, <c>datasets</c>.</summary>
    public static string Plural(this RepoType type) => type switch
    {
        RepoType.Model => "models",
        RepoType.Dataset => "datasets",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown repository type"),
    };

    /// <summary>What goes before the repository id in file URLs: empty for models, <c>datasets/</c> for datasets.</summary>
    public static string UrlPrefix(this RepoType type) => type == RepoType.Model ? "" : type.Plural() + "/";

    /// <summary>Parses <c>model</c> or <c>dataset</c> (huggingface_hub's <c>repo_type</c> values).</summary>
    /// <exception cref="ArgumentException">Any other text.</exception>
    public static RepoType Parse(string text) => text switch
    {
        "model" or "models" => RepoType.Model,
        "dataset" or "datasets" => RepoType.Dataset,
        _ => throw new ArgumentException($"'{text}' is not a repository type: expected 'model' or 'dataset'.", nameof(text)),
    };
}
