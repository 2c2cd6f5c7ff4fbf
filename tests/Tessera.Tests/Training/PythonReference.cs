using System.Diagnostics;

namespace Tessera.Tests.Training;

/// <summary>
/// Runs small reference scripts with Debian's /usr/bin/python3 (which has PyTorch 1.13; the python3 on PATH may not).
/// Tests that need it return early when it is missing; CI installs it.
/// </summary>
internal static class PythonReference
{
    const string Interpreter = "/usr/bin/python3";
    static readonly Lazy<bool> hasTorch = new(() => Available && TryRun("import torch") is not null);

    /// <summary>Whether /usr/bin/python3 exists.</summary>
    public static bool Available => File.Exists(Interpreter);

    /// <summary>Whether /usr/bin/python3 can import torch.</summary>
    public static bool HasTorch => hasTorch.Value;

    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/> and returns its stdout; throws with stderr on failure.</summary>
    public static string Run(string script, params string[] args) =>
        TryRun(script, args, out string stderr) ?? throw new InvalidOperationException($"Reference script failed:\n{stderr}");

    static string? TryRun(string script, params string[] args) => TryRun(script, args, out _);

    static string? TryRun(string script, string[] args, out string stderr)
    {
        string path = Path.Combine(Path.GetTempPath(), $"tessera-ref-{Guid.NewGuid():N}.py");
        File.WriteAllText(path, script);
        try
        {
            var psi = new ProcessStartInfo(Interpreter) { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(path);
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var process = Process.Start(psi)!;
            var stdoutTask = process.StandardOutput.ReadToEndAsync();
            stderr = process.StandardError.ReadToEnd();
            string stdout = stdoutTask.Result;
            process.WaitForExit();
            return process.ExitCode == 0 ? stdout : null;
        }
        finally
        {
            File.Delete(path);
        }
    }
}
