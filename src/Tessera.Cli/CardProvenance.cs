using Tessera.Formats;
using Tessera.Tracking.Runs;

namespace Tessera.Cli;

/// <summary>
/// Links the model cards a tracked command wrote to its run: <c>tessera_run_id</c> in the front matter and a Provenance
/// section (run id, source model and the run that made it, dataset fingerprints); folders the command wrote without a
/// card (export, quantize) get one. Quantized, merged, fine-tuned and exported folders name their source in
/// <c>base_model</c> (and <c>base_model_relation</c> where the Hub defines one: quantized, merge, adapter, finetune).
/// </summary>
static class CardProvenance
{
    internal const string RunIdKey = "tessera_run_id";
    internal const string SourceRunIdKey = "tessera_source_run_id";

    /// <summary>Stamps the cards under the command's <c>--out</c> folder (and its direct subfolders) written since <paramref name="started"/>.</summary>
    internal static void Stamp(string command, string runId, IReadOnlyDictionary<string, string> parameters, IReadOnlyList<DatasetInfo> datasets, DateTime started)
    {
        if (parameters.GetValueOrDefault("out") is not { } output || !Directory.Exists(output)) return;
        string root = Path.GetFullPath(output);
        string? source = parameters.GetValueOrDefault("model") is { } m && (Directory.Exists(m) || File.Exists(m)) ? Path.GetFullPath(m) : null;
        string? sourceFolder = source is null ? null : Directory.Exists(source) ? source : Path.GetDirectoryName(source);
        string? sourceRun = SourceRunId(sourceFolder);
        foreach (string folder in (string[])[root, .. Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal)])
        {
            if (Path.GetFileName(folder) is "checkpoints" or "events" or "samples") continue;
            string cardPath = Path.Combine(folder, "README.md");
            bool cardWritten = File.Exists(cardPath) && File.GetLastWriteTimeUtc(cardPath) >= started.AddSeconds(-1);
            bool adapter = File.Exists(Path.Combine(folder, "adapter_config.json"));
            bool model = adapter || File.Exists(Path.Combine(folder, "config.json")) || Directory.EnumerateFiles(folder, "*.onnx").Any();
            if (!cardWritten && !(model && Written(folder, started))) continue;
            var card = File.Exists(cardPath) && cardWritten ? ModelCard.Load(cardPath) : new ModelCard { Title = $"{Path.GetFileName(folder)} ({command} with Tessera)" };
            string? relation = command switch
            {
                "quantize" => "quantized",
                "merge" => "merge",
                "finetune" => adapter ? "adapter" : "finetune",
                _ => null, // export: the same weights in another format; the Hub defines no relation for it
            };
            if (source is not null && sourceFolder != folder)
            {
                if (!card.FrontMatter.ContainsKey("base_model")) card.FrontMatter["base_model"] = source;
                if (relation is not null && !card.FrontMatter.ContainsKey("base_model_relation")) card.FrontMatter["base_model_relation"] = relation;
                if (sourceRun is not null) card.FrontMatter[SourceRunIdKey] = sourceRun;
            }
            if (!card.FrontMatter.ContainsKey("library_name")) card.FrontMatter.Insert(0, "library_name", "tessera");
            if (!card.FrontMatter.ContainsKey("pipeline_tag") && command == "train lm") card.FrontMatter["pipeline_tag"] = "text-generation";
            var tags = card.FrontMatter.GetValueOrDefault("tags") as List<object?> ?? [];
            foreach (string tag in (string[])["tessera", command.Replace(' ', '-')])
                if (!tags.Contains(tag)) tags.Add(tag);
            card.FrontMatter["tags"] = tags;
            if (!card.FrontMatter.ContainsKey("datasets") && datasets.Count > 0) card.FrontMatter["datasets"] = datasets.Select(d => (object?)d.Name).ToList();
            card.FrontMatter[RunIdKey] = runId;

            var body = new System.Text.StringBuilder();
            body.Append($"Tessera run `{runId}` (`tessera runs show {runId}`, `tessera runs lineage {runId}`).\n");
            if (source is not null && sourceFolder != folder)
                body.Append($"\nSource: `{source}`{(relation is null ? "" : $" ({relation})")}{(sourceRun is null ? "" : $", made by run `{sourceRun}`")}.\n");
            if (datasets.Count > 0)
            {
                body.Append("\n| dataset | source | files | bytes | sha256 |\n|---|---|---|---|---|\n");
                foreach (var d in datasets) body.Append($"| {d.Name} | {d.Source}{(d.Revision is null ? "" : "@" + d.Revision)} | {d.FileCount} | {d.Size} | {d.Sha256} |\n");
            }
            card.Sections["Provenance"] = body.ToString();
            card.Save(cardPath);
        }
    }

    static string? SourceRunId(string? folder)
    {
        if (folder is null || !File.Exists(Path.Combine(folder, "README.md"))) return null;
        try { return ModelCard.Load(Path.Combine(folder, "README.md")).FrontMatter.GetValueOrDefault(RunIdKey) as string; }
        catch (TesseraFormatException) { return null; } // a card Tessera did not write
    }

    static bool Written(string folder, DateTime started) =>
        Directory.EnumerateFiles(folder).Any(f => File.GetLastWriteTimeUtc(f) >= started.AddSeconds(-1));
}
