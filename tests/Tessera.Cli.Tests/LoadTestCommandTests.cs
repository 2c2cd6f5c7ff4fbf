using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Tessera.Cli.Tests;

public class LoadTestCommandTests
{
    /// <summary>
    /// The smallest HTTP/1.1 server that answers every request with the same non-streamed completion (3 tokens of
    /// usage), keep-alive, on 127.0.0.1 and a free port; counts the requests it answered.
    /// </summary>
    sealed class TinyCompletionServer : IDisposable
    {
        readonly TcpListener listener = new(IPAddress.Loopback, 0);
        readonly CancellationTokenSource stop = new();
        int answered;

        public TinyCompletionServer()
        {
            listener.Start();
            _ = AcceptLoop();
        }

        public string Url => $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        public int Answered => Volatile.Read(ref answered);

        async Task AcceptLoop()
        {
            try
            {
                while (true) _ = Serve(await listener.AcceptTcpClientAsync(stop.Token));
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
        }

        async Task Serve(TcpClient client)
        {
            using var _ = client;
            var stream = client.GetStream();
            var reader = new StreamReader(stream, Encoding.ASCII);
            byte[] body = """{"id":"x","object":"text_completion","choices":[{"index":0,"text":" a b c","finish_reason":"length"}],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}"""u8.ToArray();
            try
            {
                while (await reader.ReadLineAsync(stop.Token) is { Length: > 0 })
                {
                    int length = 0;
                    string? header;
                    while ((header = await reader.ReadLineAsync(stop.Token)) is { Length: > 0 })
                        if (header.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) length = int.Parse(header[15..].Trim());
                    var content = new char[length];
                    await reader.ReadBlockAsync(content, stop.Token); // the JSON body is ASCII here
                    Interlocked.Increment(ref answered);
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n"), stop.Token);
                    await stream.WriteAsync(body, stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException) { }
        }

        public void Dispose()
        {
            stop.Cancel();
            listener.Stop();
        }
    }

    [Fact]
    public void Loadtest_writes_the_report_and_chart_and_counts_every_request()
    {
        using var server = new TinyCompletionServer();
        using var temp = new TempDirectory();
        string outDir = temp.File("report");
        var (code, output, error) = CliRunner.Run("loadtest", server.Url, "--concurrency", "1,2", "--requests", "6", "--duration", "60s",
            "--stream", "false", "--warmup", "1", "--warmup-duration", "0", "--max-tokens", "3", "--out", outDir, "--json", "--tracking-uri", temp.File("runs.db"));
        Assert.True(code == 0, error);
        Assert.Equal(13, server.Answered); // 1 warm-up + 2 levels x 6
        using (var store = Tessera.Tracking.Runs.RunStore.Open(temp.File("runs.db")))
        {
            var run = Assert.Single(store.ListRuns()); // load tests are recorded as runs like trainings
            Assert.Equal("loadtest", store.GetTags(run.Id)["tessera.command"]);
            Assert.Equal("1,2", store.GetParams(run.Id)["concurrency"]);
            Assert.Contains(store.GetArtifacts(run.Id), a => a.Path == Path.Combine(outDir, "chart.png"));
        }
        using var printed = JsonDocument.Parse(output);
        using var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")));
        foreach (var doc in new[] { printed, written })
        {
            var levels = doc.RootElement.GetProperty("levels");
            Assert.Equal(2, levels.GetArrayLength());
            foreach (var level in levels.EnumerateArray())
            {
                Assert.Equal(6, level.GetProperty("outcomes").GetProperty("200").GetInt32());
                Assert.Equal(18, level.GetProperty("output_tokens").GetInt64());
            }
        }
        Assert.True(new FileInfo(Path.Combine(outDir, "chart.png")).Length > 1000);
    }

    [Theory]
    [InlineData("--open-loop")]
    [InlineData("--rate", "5")]
    [InlineData("--duration", "ten")]
    [InlineData("--concurrency", "1,x")]
    [InlineData("--chat", "--classifier")]
    public void Bad_arguments_are_usage_errors_naming_the_option(params string[] extra)
    {
        var (code, _, error) = CliRunner.Run(["loadtest", "http://127.0.0.1:1", .. extra]);
        Assert.Equal(Cli.UsageExitCode, code);
        Assert.Contains(extra[0], error);
    }
}
