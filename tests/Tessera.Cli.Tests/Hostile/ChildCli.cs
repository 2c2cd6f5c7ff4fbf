using System.Diagnostics;
using System.Text;

namespace Tessera.Cli.Tests.Hostile;

/// <summary>What a child <c>tessera</c> process did: exit code, output, peak resident memory (VmHWM) and wall time.</summary>
internal sealed record ChildRun(int Code, string Out, string Err, long PeakBytes, TimeSpan Elapsed)
{
    public override string ToString() =>
        $"exit {Code}, peak {PeakBytes / (1 << 20)} MB, {Elapsed.TotalSeconds:0.0} s\nstdout: {Out}\nstderr: {Err}";
}

/// <summary>
/// Runs the real CLI (the <c>Tessera.Cli.dll</c> built beside the tests) as a child process with <c>dotnet</c>, so a
/// crash, an abort or a huge allocation shows as what a user sees: exit code, stderr and the process's memory. Peak
/// memory is the child's VmHWM from <c>/proc/&lt;pid&gt;/status</c>, read every few milliseconds while it runs (the
/// high-water mark only grows, so the last reading before exit is the peak up to that moment).
/// </summary>
internal static class ChildCli
{
    static string CliDll => Path.Combine(AppContext.BaseDirectory, "Tessera.Cli.dll");

    public static ChildRun Run(TimeSpan limit, params string[] args)
    {
        Requires.Linux();
        // dotnet test sets DOTNET_HOST_PATH to the muxer that runs the tests; elsewhere "dotnet" from PATH.
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } muxer && File.Exists(muxer) ? muxer : "dotnet";
        var info = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(CliDll);
        foreach (string a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["HF_HUB_OFFLINE"] = "1";

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        long peak = 0;
        string status = $"/proc/{process.Id}/status";
        while (!process.WaitForExit(5))
        {
            peak = Math.Max(peak, ReadHighWaterMark(status));
            if (clock.Elapsed > limit)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return new ChildRun(-1, stdout.Result, stderr.Result + $"\n(killed after {limit.TotalSeconds} s)", peak, clock.Elapsed);
            }
        }
        process.WaitForExit(); // drains the redirected streams
        return new ChildRun(process.ExitCode, stdout.Result, stderr.Result, peak, clock.Elapsed);
    }

    /// <summary>VmHWM in bytes, or 0 when the process has already gone (or is a zombie, which has no memory lines).</summary>
    static long ReadHighWaterMark(string statusPath)
    {
        try
        {
            foreach (string line in File.ReadLines(statusPath))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                string kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }
}
