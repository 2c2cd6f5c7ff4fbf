using System.Globalization;

namespace Tessera.Transformers;

/// <summary>
/// The one rule for class labels in <c>config.json</c> (<c>id2label</c>), used by every architecture and by the ONNX
/// runtime: the keys are exactly the class indices <c>0..n-1</c>, each written once in plain decimal (<c>"0"</c>,
/// <c>"1"</c>, ... as <c>transformers</c> writes them), and every value is a name. A map with a gap, a duplicate or a
/// non-index key is an error, because a classifier's output <c>i</c> would otherwise have no name or two.
/// </summary>
public static class LabelNames
{
    /// <summary>The names of <paramref name="id2label"/> ordered by index.</summary>
    /// <exception cref="ArgumentException">A key is not an index in <c>0..n-1</c>, an index is missing, or a name is null; the message names the key.</exception>
    public static string[] FromId2Label(IReadOnlyDictionary<string, string> id2label)
    {
        ArgumentNullException.ThrowIfNull(id2label);
        var names = new string?[id2label.Count];
        foreach (var (key, value) in id2label)
        {
            if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index >= names.Length
                || index.ToString(CultureInfo.InvariantCulture) != key)
                throw new ArgumentException($"\"id2label\": key \"{key}\" must be a class index from 0 to {names.Length - 1}", "id2label");
            names[index] = value ?? throw new ArgumentException($"\"id2label\": the name of class {key} is null", "id2label");
        }
        return names.Select((n, i) => n ?? throw new ArgumentException($"\"id2label\": class {i} has no name", "id2label")).ToArray();
    }

    /// <summary>The <c>id2label</c> map for <paramref name="labels"/> (index as decimal text to name).</summary>
    public static Dictionary<string, string> ToId2Label(IReadOnlyList<string> labels) =>
        labels.Select((l, i) => (l, i)).ToDictionary(p => p.i.ToString(CultureInfo.InvariantCulture), p => p.l);

    /// <summary>The <c>label2id</c> map for <paramref name="labels"/> (name to index).</summary>
    /// <exception cref="ArgumentException">Two labels have the same name.</exception>
    public static Dictionary<string, int> ToLabel2Id(IReadOnlyList<string> labels) =>
        labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);

    /// <summary>A copy of <paramref name="config"/> whose <c>id2label</c>/<c>label2id</c> name <paramref name="labels"/>.</summary>
    /// <exception cref="ArgumentException">Two labels have the same name.</exception>
    public static TConfig WithLabels<TConfig>(this TConfig config, IReadOnlyList<string> labels) where TConfig : PretrainedConfig
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(labels);
        return (TConfig)(config with { Id2Label = ToId2Label(labels), Label2Id = ToLabel2Id(labels) });
    }
}
