using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Tessera.LoadTest;

namespace Tessera.Cli;

static class LoadTestCommand
{
    public static Command Create()
    {
        var url = new Argument<string>("url") { Description = "Server address (http://127.0.0.1:8080), or a full endpoint address used as given" };
        var concurrency = new Option<string>("--concurrency") { Description = "Closed-loop levels: comma-separated client counts", DefaultValueFactory = _ => "1,4,16" };
        var duration = new Option<string>("--duration") { Description = "How long each level sends requests (500ms, 10s, 2m)", DefaultValueFactory = _ => "10s" };
        var requests = new Option<int?>("--requests") { Description = "At most this many requests per level [default: no limit besides --duration]" }.AtLeast(1);
        var promptFile = new Option<string?>("--prompt-file") { Description = "Prompts, one per non-empty line, used in turn [default: one short English prompt]" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "max_tokens of every text request", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var model = new Option<string?>("--model") { Description = "The model field of text requests; the model name in the /v2 path with --classifier [default there: model]" };
        var stream = new Option<bool>("--stream") { Description = "Stream text responses (SSE) and time every chunk: --stream true|false", DefaultValueFactory = _ => true };
        var chat = new Option<bool>("--chat") { Description = "Send /v1/chat/completions (the prompt as one user message) instead of /v1/completions" };
        var temperature = new Option<double?>("--temperature") { Description = "temperature of text requests [default: the server's]" };
        var openLoop = new Option<bool>("--open-loop") { Description = "Open loop: requests arrive at --rate (Poisson) whatever the server does, instead of the closed-loop --concurrency levels" };
        var rate = new Option<string?>("--rate") { Description = "Open-loop arrival rates, requests/s, comma-separated (needs --open-loop)" };
        var classifier = new Option<bool>("--classifier") { Description = "KServe v2 inference: POST /v2/models/{model}/infer with one random FP32 tensor of --input-shape" };
        var inputShape = new Option<string>("--input-shape") { Description = "Classifier input shape, batch first", DefaultValueFactory = _ => "1,1,28,28" };
        var inputName = new Option<string?>("--input-name") { Description = "Classifier input name [default: asked from GET /v2/models/{model}, else 'input']" };
        var timeout = new Option<string>("--timeout") { Description = "Longest a request may take before it counts as a timeout", DefaultValueFactory = _ => "60s" };
        var warmup = new Option<int>("--warmup") { Description = "Uncounted requests sent one at a time before the first level", DefaultValueFactory = _ => 2 }.AtLeast(0);
        var warmupDuration = new Option<string>("--warmup-duration") { Description = "Then uncounted closed-loop load this long at the first level's concurrency (warms server and client); 0 for none", DefaultValueFactory = _ => "2s" };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "File holding a bearer token to send" };
        var seed = new Option<int>("--seed") { Description = "Seed of open-loop arrival times and of the classifier input", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Folder for report.json, chart.png and requests.jsonl", DefaultValueFactory = _ => "loadtest-report" };
        var json = new Option<bool>("--json") { Description = "Print report.json instead of the table" };
        var command = new Command("loadtest", "Load a model server (OpenAI completions/chat, KServe v2 infer) at several concurrency levels or arrival rates; report throughput, TTFT, inter-token and end-to-end latency percentiles and errors by status")
        {
            url, concurrency, duration, requests, promptFile, maxTokens, model, stream, chat, temperature, openLoop, rate, classifier,
            inputShape, inputName, timeout, warmup, warmupDuration, apiKeyFile, seed, output, json,
        };
        command.SetAction(async (parse, cancel) =>
        {
            if (parse.GetValue(chat) && parse.GetValue(classifier)) throw new UsageException("--chat and --classifier cannot be used together");
            bool open = parse.GetValue(openLoop);
            string? rates = parse.GetValue(rate);
            if (open != (rates is not null)) throw new UsageException("--open-loop and --rate go together: --open-loop --rate 5,10");
            if (!Uri.TryCreate(parse.GetValue(url), UriKind.Absolute, out var address))
                throw new UsageException($"url must be an absolute address like http://127.0.0.1:8080 (got '{parse.GetValue(url)}')");
            var options = new LoadTestOptions
            {
                Url = address,
                Mode = parse.GetValue(classifier) ? LoadTestMode.Classifier : parse.GetValue(chat) ? LoadTestMode.Chat : LoadTestMode.Completions,
                Concurrency = open ? [] : ParseList(parse.GetValue(concurrency)!, "--concurrency", int.Parse),
                Rates = open ? ParseList(rates!, "--rate", s => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)) : [],
                Duration = ParseDuration(parse.GetValue(duration)!, "--duration"),
                MaxRequests = parse.GetValue(requests),
                RequestTimeout = ParseDuration(parse.GetValue(timeout)!, "--timeout"),
                WarmupRequests = parse.GetValue(warmup),
                WarmupDuration = parse.GetValue(warmupDuration)!.Trim() is "0" or "0s" or "0ms" ? TimeSpan.Zero : ParseDuration(parse.GetValue(warmupDuration)!, "--warmup-duration"),
                Prompts = parse.GetValue(promptFile) is { } file ? ReadPrompts(file) : new LoadTestOptions { Url = address }.Prompts,
                MaxTokens = parse.GetValue(maxTokens),
                Model = parse.GetValue(model),
                Stream = parse.GetValue(stream),
                Temperature = parse.GetValue(temperature),
                InputShape = ParseList(parse.GetValue(inputShape)!, "--input-shape", long.Parse),
                InputName = parse.GetValue(inputName),
                ApiKey = parse.GetValue(apiKeyFile) is { } keyFile ? File.ReadAllText(keyFile).Trim() : null,
                Seed = parse.GetValue(seed),
            };
            var console = parse.InvocationConfiguration.Output;
            bool printJson = parse.GetValue(json);
            var progress = new Progress<LevelReport>(l => { if (!printJson) console.WriteLine($"{Label(l)}: {l.Succeeded}/{l.Requests} ok in {l.ElapsedSeconds:0.0} s"); });
            var report = await LoadTestRunner.RunAsync(options, progress, cancel);
            var (reportPath, chartPath) = report.Save(parse.GetValue(output)!);
            if (printJson) console.WriteLine(report.ToJson());
            else
            {
                Print(report, console);
                console.WriteLine($"wrote {reportPath}, {chartPath}");
            }
            return 0;
        });
        return command;
    }

    static T[] ParseList<T>(string text, string option, Func<string, T> parse)
    {
        try
        {
            var values = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).ToArray();
            return values.Length > 0 ? values : throw new FormatException();
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new UsageException($"{option} must be numbers separated by commas (got '{text}')");
        }
    }

    /// <summary>"500ms", "10s", "2m", or a bare number of seconds.</summary>
    internal static TimeSpan ParseDuration(string text, string option)
    {
        string t = text.Trim();
        (string number, double scale) = t.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (t[..^2], 0.001)
            : t.EndsWith('s') ? (t[..^1], 1) : t.EndsWith('m') ? (t[..^1], 60) : (t, 1);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) || value <= 0)
            throw new UsageException($"{option} must be a positive duration like 500ms, 10s or 2m (got '{text}')");
        return TimeSpan.FromSeconds(value * scale);
    }

    static string[] ReadPrompts(string path)
    {
        string[] prompts = [.. File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0)];
        return prompts.Length > 0 ? prompts : throw new UsageException($"--prompt-file {path} has no non-empty line");
    }

    static string Label(LevelReport l) => l.Loop == "closed"
        ? $"concurrency {l.Concurrency}"
        : $"rate {l.RatePerSecond!.Value.ToString("0.##", CultureInfo.InvariantCulture)}/s";

    static void Print(LoadTestReport report, TextWriter output)
    {
        var table = new Table().AddColumns("level", "ok/sent", "req/s", "tok/s", "TTFT p50", "p95", "p99", "ITL p50", "p99", "e2e p50", "p99", "outcomes");
        foreach (var l in report.Levels)
        {
            table.AddRow(Label(l), $"{l.Succeeded}/{l.Requests}", F(l.RequestsPerSecond), F(l.OutputTokensPerSecond),
                Ms(l.TimeToFirstToken?.P50Ms), Ms(l.TimeToFirstToken?.P95Ms), Ms(l.TimeToFirstToken?.P99Ms),
                Ms(l.InterTokenLatency?.P50Ms), Ms(l.InterTokenLatency?.P99Ms), Ms(l.EndToEnd?.P50Ms), Ms(l.EndToEnd?.P99Ms),
                Markup.Escape(string.Join(" ", l.Outcomes.Select(o => $"{o.Key}:{o.Value}"))));
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        if (Console.IsOutputRedirected || output != Console.Out) console.Profile.Width = 200; // one row per level in logs
        console.Write(table);
        output.WriteLine($"latencies in ms (nearest-rank percentiles of successful requests); {report.Endpoint}");
    }

    static string F(double v) => v.ToString(v < 100 ? "0.0" : "0", CultureInfo.InvariantCulture);

    static string Ms(double? ms) => ms is double v ? v.ToString(v < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) : "-";
}
