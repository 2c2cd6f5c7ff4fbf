using Tessera.Formats;

namespace Tessera.Hub.Datasets;

/// <summary>
/// The <c>configs:</c> of a dataset card's front matter (README.md), as the Hub and the <c>datasets</c> library read
/// them: each configuration has a <c>config_name</c> and <c>data_files</c>, either patterns (all <c>train</c>) or a
/// list of <c>{split, path}</c> where path is one pattern or a list. The configuration used is the one asked for,
/// else the one marked <c>default: true</c>, else <c>default</c>, else the first.
/// </summary>
internal static class DatasetCardConfigs
{
    /// <summary>The splits' file patterns of the chosen configuration; null when the card has no <c>configs:</c> (or no card).</summary>
    /// <exception cref="TesseraFormatException">The card cannot be parsed while a configuration was asked for, or <c>configs:</c> is malformed.</exception>
    /// <exception cref="KeyNotFoundException">The configuration asked for is not in the card.</exception>
    public static (string Name, IReadOnlyList<(string Split, IReadOnlyList<string> Patterns)> Splits)? Read(string folder, string? configName)
    {
        string readme = Path.Combine(folder, "README.md");
        if (!File.Exists(readme))
            return configName is null ? null : throw new KeyNotFoundException($"{folder}: no README.md, so no configuration \"{configName}\"");
        ModelCard card;
        try { card = ModelCard.Load(readme); }
        catch (TesseraFormatException) when (configName is null)
        {
            return null; // a card our YAML subset cannot read: fall back to the file layout, as for a card without configs
        }
        if (!card.FrontMatter.TryGetValue("configs", out object? value) || value is null)
            return configName is null ? null : throw new KeyNotFoundException($"{readme}: no configs, so no configuration \"{configName}\"");
        if (value is not IEnumerable<object?> list)
            throw new TesseraFormatException(readme, "configs: expected a list of configurations");

        var configs = list.Select(c => c as IReadOnlyDictionary<string, object?>
            ?? throw new TesseraFormatException(readme, "configs: each configuration must be a mapping with config_name and data_files")).ToList();
        string NameOf(IReadOnlyDictionary<string, object?> c) => c.GetValueOrDefault("config_name") as string ?? "default";
        IReadOnlyDictionary<string, object?>? chosen = configName is not null
            ? configs.FirstOrDefault(c => NameOf(c) == configName)
                ?? throw new KeyNotFoundException($"{readme}: no configuration \"{configName}\"; the card has: {string.Join(", ", configs.Select(NameOf))}")
            : configs.FirstOrDefault(c => c.GetValueOrDefault("default") is true || c.GetValueOrDefault("default") is "true")
                ?? configs.FirstOrDefault(c => NameOf(c) == "default") ?? configs.FirstOrDefault();
        if (chosen is null) return null;
        string name = NameOf(chosen);

        object? dataFiles = chosen.GetValueOrDefault("data_files");
        var splits = new List<(string, IReadOnlyList<string>)>();
        switch (dataFiles)
        {
            case string pattern:
                splits.Add(("train", [pattern]));
                break;
            case IEnumerable<object?> items when items.All(i => i is string):
                splits.Add(("train", [.. items.Cast<string>()]));
                break;
            case IEnumerable<object?> items:
                foreach (object? item in items)
                {
                    if (item is not IReadOnlyDictionary<string, object?> entry || entry.GetValueOrDefault("split") is not string split)
                        throw new TesseraFormatException(readme, $"configs: \"{name}\": each data_files entry needs a split and a path");
                    IReadOnlyList<string> patterns = entry.GetValueOrDefault("path") switch
                    {
                        string p => [p],
                        IEnumerable<object?> ps when ps.All(p => p is string) => [.. ps.Cast<string>()],
                        _ => throw new TesseraFormatException(readme, $"configs: \"{name}\": split \"{split}\": path must be a pattern or a list of patterns"),
                    };
                    splits.Add((split, patterns));
                }
                break;
            default:
                throw new TesseraFormatException(readme, $"configs: \"{name}\": data_files must be a pattern, a list of patterns, or a list of {{split, path}}");
        }
        return (name, splits);
    }
}
