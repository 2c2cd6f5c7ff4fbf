using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tessera.Tracking.Capture;

/// <summary>
/// What a run ran on, as a flat sorted map of dotted keys (<c>git.commit</c>, <c>version.torchsharp</c>,
/// <c>package.TorchSharp</c>, <c>cpu.flags</c>, <c>env.OMP_NUM_THREADS</c>, ...) so that two environments compare
/// key by key. Secrets in environment variables (names with TOKEN, SECRET, PASSWORD, KEY, CREDENTIAL) are redacted.
/// </summary>
public sealed partial class RunEnvironment
{
    /// <summary>The text that replaces a secret's value.</summary>
    public const string Redacted = "<redacted>";

    /// <summary>Git diffs longer than this are cut (with a marker), so a run row stays small.</summary>
    public const int MaxDiffChars = 256 * 1024;

    static readonly string[] variablePrefixes = ["OMP_", "MKL_", "HF_", "HUGGINGFACE_", "TESSERA_", "CUDA_", "TORCH_", "DOTNET_", "ORT_", "MLFLOW_", "KMP_", "OPENBLAS_", "LD_LIBRARY_PATH", "PYTORCH_"];

    /// <summary>Creates an environment from captured values.</summary>
    public RunEnvironment(IReadOnlyDictionary<string, string> values) =>
        Values = new SortedDictionary<string, string>(values.ToDictionary(), StringComparer.Ordinal);

    /// <summary>The captured values by dotted key.</summary>
    public IReadOnlyDictionary<string, string> Values { get; }

    /// <summary>
    /// Captures this process's environment: git state of <paramref name="workingDirectory"/> (commit, branch, dirty
    /// flag, and the diff when dirty), Tessera/.NET/TorchSharp/libtorch/ONNX Runtime versions and the resolved package
    /// list (from the application's deps.json), OS, CPU model, cores, ISA flags, memory, GPUs, relevant environment
    /// variables (secrets redacted) and the given <paramref name="seeds"/>. Anything unavailable is left out.
    /// </summary>
    public static RunEnvironment Capture(string? workingDirectory = null, IReadOnlyDictionary<string, string>? seeds = null)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        string dir = workingDirectory ?? Environment.CurrentDirectory;
        CaptureGit(dir, values);
        CaptureVersions(values);
        CaptureMachine(values);
        foreach (var (name, value) in Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                     .Select(e => ((string)e.Key, e.Value as string ?? "")))
            if (variablePrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
                values[$"env.{name}"] = IsSecret(name) ? Redacted : value;
        foreach (var (name, value) in seeds ?? new Dictionary<string, string>()) values[$"seed.{name}"] = value;
        return new RunEnvironment(values);
    }

    /// <summary>Whether an environment variable called <paramref name="name"/> holds a secret.</summary>
    public static bool IsSecret(string name) => SecretName().IsMatch(name);

    /// <summary>Every key whose value differs (or exists on one side only), sorted: key, this value, other value.</summary>
    public IReadOnlyList<(string Key, string? Mine, string? Theirs)> Diff(RunEnvironment other) =>
        Values.Keys.Union(other.Values.Keys).Order(StringComparer.Ordinal)
            .Select(k => (Key: k, Mine: Values.GetValueOrDefault(k), Theirs: other.Values.GetValueOrDefault(k)))
            .Where(d => d.Mine != d.Theirs)
            .ToList();

    /// <summary>The values as a JSON object.</summary>
    public string ToJson() => JsonSerializer.Serialize(Values.ToDictionary(), TrackingJsonContext.Default.DictionaryStringString);

    /// <summary>Reads <see cref="ToJson"/>'s output.</summary>
    public static RunEnvironment FromJson(string json) =>
        new(JsonSerializer.Deserialize(json, TrackingJsonContext.Default.DictionaryStringString) ?? []);

    static void CaptureGit(string dir, Dictionary<string, string> values)
    {
        string? commit = Git(dir, "rev-parse", "HEAD");
        if (commit is null) return;
        values["git.commit"] = commit.Trim();
        if (Git(dir, "rev-parse", "--abbrev-ref", "HEAD") is { } branch) values["git.branch"] = branch.Trim();
        string status = Git(dir, "status", "--porcelain", "--untracked-files=no") ?? "";
        bool dirty = status.Trim().Length > 0;
        values["git.dirty"] = dirty ? "true" : "false";
        if (dirty && Git(dir, "diff", "HEAD") is { } diff)
            values["git.diff"] = diff.Length > MaxDiffChars ? diff[..MaxDiffChars] + "\n[diff cut at 256 KiB]\n" : diff;
    }

    static string? Git(string dir, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo("git") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in args) psi.ArgumentList.Add(a);
            using var process = Process.Start(psi)!;
            var error = process.StandardError.ReadToEndAsync();
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; } // no git installed
    }

    static void CaptureVersions(Dictionary<string, string> values)
    {
        values["version.dotnet"] = RuntimeInformation.FrameworkDescription;
        values["version.tessera"] = typeof(RunEnvironment).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
            ?? typeof(RunEnvironment).Assembly.GetName().Version?.ToString() ?? "";
        foreach (var (name, version) in DepsJson.Packages(AppContext.BaseDirectory))
        {
            values[$"package.{name}"] = version;
            if (name == "TorchSharp") values["version.torchsharp"] = version;
            else if (name.StartsWith("libtorch-", StringComparison.Ordinal) && !name.Contains("-part", StringComparison.Ordinal)) values["version.libtorch"] = version;
            else if (name == "Microsoft.ML.OnnxRuntime") values["version.onnxruntime"] = version;
        }
    }

    static void CaptureMachine(Dictionary<string, string> values)
    {
        values["os.description"] = RuntimeInformation.OSDescription;
        values["os.architecture"] = RuntimeInformation.OSArchitecture.ToString();
        values["cpu.cores"] = Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        values["memory.total_bytes"] = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (File.Exists("/etc/os-release") && OsRelease(File.ReadAllText("/etc/os-release")) is { } pretty) values["os.release"] = pretty;
        if (File.Exists("/proc/cpuinfo"))
        {
            var (model, flags) = CpuInfo.Parse(File.ReadAllText("/proc/cpuinfo"));
            if (model is not null) values["cpu.model"] = model;
            if (flags.Count > 0) values["cpu.flags"] = string.Join(' ', flags);
        }
        if (File.Exists("/proc/meminfo") && MemTotal(File.ReadLines("/proc/meminfo")) is { } total) values["memory.total_bytes"] = total;
        if (Directory.Exists("/proc/driver/nvidia/gpus"))
        {
            int i = 0;
            foreach (string gpu in Directory.EnumerateDirectories("/proc/driver/nvidia/gpus").Order(StringComparer.Ordinal))
            {
                string info = Path.Combine(gpu, "information");
                string? model = File.Exists(info) ? File.ReadLines(info).FirstOrDefault(l => l.StartsWith("Model:", StringComparison.Ordinal))?["Model:".Length..].Trim() : null;
                values[$"gpu.{i++}"] = model ?? Path.GetFileName(gpu);
            }
        }
    }

    static string? OsRelease(string text) =>
        text.Split('\n').FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"');

    static string? MemTotal(IEnumerable<string> lines)
    {
        string? line = lines.FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        if (line is null) return null;
        string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && long.TryParse(parts[1], out long kb) ? (kb * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    [GeneratedRegex("TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|AUTH", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();
}
