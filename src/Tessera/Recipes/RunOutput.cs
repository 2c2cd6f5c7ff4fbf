namespace Tessera.Recipes;

/// <summary>
/// The output folder of a training run. A folder that already holds files is refused unless the run resumes from it
/// or overwrites it, so two runs never mix (an old best checkpoint or old event files beside new ones).
/// </summary>
public static class RunOutput
{
    /// <summary>What a run writes into its folder; only these are deleted by an overwrite.</summary>
    public static IReadOnlyList<string> Artifacts { get; } = ["checkpoints", "events", "model", "samples", "metrics.csv", "hparams.json"];

    /// <summary>Checks and creates <paramref name="outputDir"/>; returns its full path.</summary>
    /// <param name="outputDir">The run folder.</param>
    /// <param name="resume">The run continues the one in the folder (its files are kept).</param>
    /// <param name="overwrite">The run replaces the one in the folder: the <see cref="Artifacts"/> there are deleted first; other files are left alone.</param>
    /// <exception cref="ArgumentException">The folder holds files and neither flag is set, or both are.</exception>
    public static string Prepare(string outputDir, bool resume, bool overwrite)
    {
        ArgumentException.ThrowIfNullOrEmpty(outputDir);
        if (resume && overwrite) throw new ArgumentException("--resume and --overwrite exclude each other");
        string full = Path.GetFullPath(outputDir);
        if (!resume && Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            if (!overwrite)
                throw new ArgumentException($"--out {outputDir} already holds files (an earlier run?); pass --resume to continue that run or --overwrite to replace it, or choose another folder");
            foreach (string name in Artifacts)
            {
                string path = Path.Combine(full, name);
                if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
                else if (File.Exists(path)) File.Delete(path);
            }
        }
        Directory.CreateDirectory(full);
        return full;
    }
}
