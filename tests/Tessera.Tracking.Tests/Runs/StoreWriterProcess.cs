using System.Diagnostics;

namespace Tessera.Tracking.Tests.Runs;

/// <summary>Starts tests/Tessera.Tracking.StoreWriter (copied beside the tests) as a separate process.</summary>
internal static class StoreWriterProcess
{
    static string Dll => Path.Combine(AppContext.BaseDirectory, "Tessera.Tracking.StoreWriter.dll");

    public static Process Start(params string[] args)
    {
        Assert.True(File.Exists(Dll), $"{Dll} is missing: the test project must reference Tessera.Tracking.StoreWriter");
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        psi.ArgumentList.Add(Dll);
        foreach (string a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    /// <summary>Runs to completion; returns stdout, failing the test on a non-zero exit.</summary>
    public static async Task<string> RunAsync(params string[] args)
    {
        using var process = Start(args);
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.True(process.ExitCode == 0, $"StoreWriter {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }
}
