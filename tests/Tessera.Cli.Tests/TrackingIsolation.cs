using System.Runtime.CompilerServices;

namespace Tessera.Cli.Tests;

/// <summary>
/// Every CLI command that trains, exports or evaluates records a run in <c>tessera-runs/runs.db</c> of the working
/// directory; for the tests that store goes to a temp folder instead (set once, before any test runs, and inherited by
/// the processes tests start), so the suite leaves nothing in the repository.
/// </summary>
static class TrackingIsolation
{
    [ModuleInitializer]
    internal static void UseATempStore()
    {
        if (Environment.GetEnvironmentVariable("TESSERA_TRACKING_URI") is { Length: > 0 }) return;
        string folder = Path.Combine(Path.GetTempPath(), $"tessera-cli-tests-runs-{Environment.ProcessId}");
        Environment.SetEnvironmentVariable("TESSERA_TRACKING_URI", folder + "/");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(folder, recursive: true); }
            catch (IOException) { }
        };
    }
}
