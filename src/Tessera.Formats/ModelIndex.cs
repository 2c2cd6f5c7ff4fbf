using System.Text;

namespace Tessera.Formats;

/// <summary>One metric of a model-index result: its type (a metric id such as <c>accuracy</c>), value and display name.</summary>
public sealed record ModelIndexMetric(string Type, double Value, string Name);

/// <summary>
/// One result of a Hub <c>model-index</c> entry: the task (type and display name), the dataset it was evaluated on
/// (type, display name, optional split and revision) and the metrics measured there.
/// </summary>
public sealed record ModelIndexResult(string TaskType, string TaskName, string DatasetType, string DatasetName, IReadOnlyList<ModelIndexMetric> Metrics)
{
    /// <summary>The dataset split evaluated (e.g. <c>test</c>, <c>validation</c>), or null to omit it.</summary>
    public string? Split { get; init; }

    /// <summary>The dataset revision (e.g. a Hub commit), or null to omit it.</summary>
    public string? Revision { get; init; }
}

/// <summary>
/// Builds the Hub model card's <c>model-index</c> front matter (<c>- name, results: - task, dataset, metrics</c>)
/// as the list <see cref="ModelCard.FrontMatter"/> holds, and renders front matter for cards written as plain text.
/// </summary>
public static class ModelIndex
{
    /// <summary>The <c>model-index</c> value: one model named <paramref name="modelName"/> with the given results.</summary>
    /// <exception cref="ArgumentException">No results, a result with no metrics, or a non-finite metric value.</exception>
    public static List<object?> Build(string modelName, params IReadOnlyList<ModelIndexResult> results)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelName);
        if (results.Count == 0) throw new ArgumentException("a model-index needs at least one result", nameof(results));
        var list = new List<object?>();
        foreach (var r in results)
        {
            if (r.Metrics.Count == 0) throw new ArgumentException($"model-index result for task '{r.TaskType}' has no metrics", nameof(results));
            var dataset = new OrderedDictionary<string, object?> { ["type"] = r.DatasetType, ["name"] = r.DatasetName };
            if (r.Split is not null) dataset["split"] = r.Split;
            if (r.Revision is not null) dataset["revision"] = r.Revision;
            var metrics = new List<object?>();
            foreach (var m in r.Metrics)
            {
                if (!double.IsFinite(m.Value)) throw new ArgumentException($"model-index metric '{m.Type}' is not finite ({m.Value})", nameof(results));
                metrics.Add(new OrderedDictionary<string, object?> { ["type"] = m.Type, ["value"] = m.Value, ["name"] = m.Name });
            }
            list.Add(new OrderedDictionary<string, object?>
            {
                ["task"] = new OrderedDictionary<string, object?> { ["type"] = r.TaskType, ["name"] = r.TaskName },
                ["dataset"] = dataset,
                ["metrics"] = metrics,
            });
        }
        return [new OrderedDictionary<string, object?> { ["name"] = modelName, ["results"] = list }];
    }

    /// <summary>
    /// Renders <paramref name="frontMatter"/> between <c>---</c> lines (ending with a newline), as
    /// <see cref="ModelCard.ToMarkdown"/> writes it, for cards whose markdown body is built as text.
    /// </summary>
    /// <exception cref="ArgumentException">A value has an unsupported type; the message names the key.</exception>
    public static string RenderFrontMatter(IEnumerable<KeyValuePair<string, object?>> frontMatter)
    {
        var sb = new StringBuilder("---\n");
        FrontMatterYaml.WriteMapping(sb, frontMatter, 0);
        return sb.Append("---\n").ToString();
    }
}
