using System.Diagnostics;
using System.Text.Json;
using Tessera.Tracking.Runs;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera ui</c>: serves the store it is given on 127.0.0.1 and stops cleanly on SIGTERM.</summary>
public sealed class UiCommandTests : IDisposable
{
    readonly TempDirectory temp = new("tessera-cli-ui-");

    public void Dispose() => temp.Dispose();

    [Fact]
    public void A_missing_store_or_a_bad_host_is_one_error_line()
    {
        string missing = temp.File("nothing/runs.db");
        var (code, _, err) = CliRunner.Run("ui", "--tracking-uri", missing, "--port", "0");
        Assert.Equal(1, code);
        Assert.Contains($"no runs store at {missing}", err);
        Assert.False(File.Exists(missing));

        string store = temp.File("runs.db");
        using (var runs = RunStore.Open(store)) runs.StartRun().End();
        (code, _, err) = CliRunner.Run("ui", "--tracking-uri", store, "--host", "example.org", "--port", "0");
        Assert.Equal(Cli.UsageExitCode, code);
        Assert.Contains("host must be an IP address", err);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Serves_the_store_on_127_0_0_1_and_exits_0_on_sigterm()
    {
        Requires.Linux();
        string store = temp.File("runs.db");
        string id;
        using (var runs = RunStore.Open(store))
        using (var run = runs.StartRun(new RunStartOptions { Name = "shown" }))
        {
            id = run.Id;
            run.LogMetric("loss", 0.5, 1);
        }
        string cli = Path.Combine(AppContext.BaseDirectory, "Tessera.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { cli, "ui", "--port", "0", "--tracking-uri", store }) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120)); // the whole test, on a busy machine
            string? line = await process.StandardOutput.ReadLineAsync(limit.Token);
            string prefix = $"dashboard of {store} on http://127.0.0.1:";
            Assert.True(line?.StartsWith(prefix, StringComparison.Ordinal) == true, line);
            var address = new Uri(line![$"dashboard of {store} on ".Length..].Split(' ')[0]);
            using var client = new HttpClient { BaseAddress = address };
            using var runsJson = JsonDocument.Parse(await client.GetStringAsync("/api/runs", limit.Token));
            var listed = Assert.Single(runsJson.RootElement.GetProperty("runs").EnumerateArray());
            Assert.Equal(id, listed.GetProperty("id").GetString());
            Assert.Equal(0.5, listed.GetProperty("metrics").GetProperty("loss").GetDouble());
            Assert.Contains("<script src=\"/app.js\">", await client.GetStringAsync("/", limit.Token));

            Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExit();
            await process.WaitForExitAsync(limit.Token);
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {await stderr}");
            Assert.Equal("stopped", (await process.StandardOutput.ReadToEndAsync(limit.Token)).Trim());
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }
}
