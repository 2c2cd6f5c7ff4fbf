using System.CommandLine;
using Tessera.Hub;

namespace Tessera.Cli;

static class HubCommand
{
    public static Command Create()
    {
        var repo = new Argument<string>("repo") { Description = "Repository as org/name or org/name@revision (branch, tag or commit)" };
        var include = new Option<string[]>("--include") { Description = "Only files matching these patterns (e.g. *.json *.safetensors)", AllowMultipleArgumentsPerToken = true };
        var exclude = new Option<string[]>("--exclude") { Description = "Skip files matching these patterns", AllowMultipleArgumentsPerToken = true };
        var repoType = new Option<string>("--repo-type") { Description = "model or dataset (datasets come from /datasets/org/name into datasets--org--name)", DefaultValueFactory = _ => "model" };
        repoType.AcceptOnlyFromAmong("model", "dataset");
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Cache folder [default: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub]" };
        var download = new Command("download", "Download a model or dataset repository into the huggingface_hub cache layout; prints the snapshot folder")
        {
            repo, repoType, include, exclude, cacheDir,
        };
        download.SetAction(async (parse, cancel) =>
        {
            var reference = RepoReference.Parse(parse.GetValue(repo)!);
            var options = HubOptions.FromEnvironment();
            if (parse.GetValue(cacheDir) is string dir) options = options with { CacheDir = dir };
            using var client = new HubClient(options);
            var error = parse.InvocationConfiguration.Error;
            long lastReported = -1;
            var progress = new Progress<HubProgress>(p =>
            {
                // One line per finished file keeps logs readable; byte counts go with it.
                if (p.FilesCompleted == lastReported) return;
                lastReported = p.FilesCompleted;
                error.WriteLine($"{p.FilesCompleted}/{p.TotalFiles} files, {p.BytesDownloaded / 1e6:0.0} MB{(p.TotalBytes is long t ? $" of {t / 1e6:0.0} MB" : "")}");
            });
            var snapshot = await client.DownloadSnapshotAsync(reference.RepoId, RepoTypes.Parse(parse.GetValue(repoType)!), reference.Revision, progress,
                parse.GetValue(include) is { Length: > 0 } inc ? inc : null, parse.GetValue(exclude) is { Length: > 0 } exc ? exc : null, cancel);
            parse.InvocationConfiguration.Output.WriteLine(snapshot.Folder);
            return 0;
        });
        return new Command("hub", "Hugging Face Hub: download repositories into the shared cache") { download };
    }
}
