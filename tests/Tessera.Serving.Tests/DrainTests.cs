using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;

namespace Tessera.Serving.Tests;

/// <summary><c>tessera serve</c> as a child process: SIGTERM stops new connections, lets the running stream finish, and exits 0.</summary>
[Collection(ServingCollection.Name)]
public class DrainTests(ServingModels models)
{
    [Trait("Category", "Slow")]
    [Fact]
    public async Task Sigterm_refuses_new_connections_finishes_the_running_stream_and_exits_0()
    {
        Requires.Linux();
        string cli = Path.Combine(AppContext.BaseDirectory, "Tessera.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { cli, "serve", models.LanguageModel, "--port", "0", "--quiet" }) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120)); // the whole test, on a busy machine
            string? line = await process.StandardOutput.ReadLineAsync(limit.Token);
            Assert.True(line?.StartsWith("serving lm on http://127.0.0.1:") == true, line); // (stderr ends only when the child exits)
            var address = new Uri(line!["serving lm on ".Length..]);
            using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
            string body = JsonSerializer.Serialize(new { model = "lm", prompt = "Hi", max_tokens = 200, temperature = 0, stream = true });
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token);
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync(limit.Token));
            Assert.StartsWith("data: {", await reader.ReadLineAsync(limit.Token));

            Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExit();
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (true)
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await socket.ConnectAsync("127.0.0.1", address.Port, limit.Token);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    break; // the listener is closed
                }
                Assert.True(DateTime.UtcNow < deadline, "new connections were still accepted 20 s after SIGTERM");
                await Task.Delay(20);
            }
            string rest = await reader.ReadToEndAsync(limit.Token);
            Assert.EndsWith("data: [DONE]\n\n", rest);
            Assert.Contains("\"finish_reason\":\"length\"", rest);
            await process.WaitForExitAsync(limit.Token);
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {await stderr}");
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }
}
