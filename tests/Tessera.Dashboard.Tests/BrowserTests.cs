using System.Collections.Concurrent;
using PuppeteerSharp;
using Tessera.Tracking.Runs;

namespace Tessera.Dashboard.Tests;

/// <summary>
/// The dashboard in a real browser: Debian's chromium, headless, driven by PuppeteerSharp. Screenshots of the runs
/// table, a run page and the compare view are saved to <c>dashboard-screenshots/</c> in the test output folder
/// (bin/Release/net10.0/linux-x64/) and attached to the test result.
/// </summary>
public sealed class BrowserTests : IAsyncLifetime
{
    readonly SampleStore sample = new();
    DashboardServer server = null!;

    public async ValueTask InitializeAsync()
    {
        server = new DashboardServer(new DashboardOptions { Port = 0, RefreshInterval = TimeSpan.FromMilliseconds(200) }, sample.Path);
        await server.StartAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await server.DisposeAsync();
        sample.Dispose();
    }

    public static string ScreenshotFolder => Path.Combine(AppContext.BaseDirectory, "dashboard-screenshots");

    [Fact]
    [Trait("Category", "Slow")]
    public async Task The_runs_table_a_run_chart_compare_and_live_updates_work_in_headless_chromium()
    {
        Requires.Chromium();
        Directory.CreateDirectory(ScreenshotFolder);
        string origin = server.Address!.ToString().TrimEnd('/');
        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = Requires.ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions"],
            Timeout = 60_000,
        });
        await using var page = await browser.NewPageAsync();
        page.DefaultTimeout = 20_000;
        await page.SetViewportAsync(new ViewPortOptions { Width = 1280, Height = 900 });
        var requests = new ConcurrentQueue<string>();
        var errors = new ConcurrentQueue<string>();
        page.Request += (_, e) => requests.Enqueue(e.Request.Url);
        page.PageError += (_, e) => errors.Enqueue("page error: " + e.Message);
        page.Console += (_, e) => { if (e.Message.Type == ConsoleType.Error) errors.Enqueue($"console: {e.Message.Text} ({e.Message.Location?.URL})"); };

        // Runs table: every run the test created, sortable, filterable.
        await page.GoToAsync(origin + "/#/");
        foreach (string id in (string[])[sample.CnnId, sample.MlpId, sample.Running.Id])
            await page.WaitForSelectorAsync($"#runs-table tr[data-run-id='{id}']");
        Assert.Equal("0.75", await Text(page, $"tr[data-run-id='{sample.CnnId}'] td[data-metric='val_acc']"));
        await page.ClickAsync("th[data-sort='name']");
        await page.WaitForSelectorAsync("th[data-sort='name'].sorted-asc");
        Assert.Equal(["eval-running", "train-cnn", "train-mlp"], await page.EvaluateExpressionAsync<string[]>(
            "[...document.querySelectorAll('#runs-table tbody tr')].map(r => r.children[2].textContent)"));
        await page.ScreenshotAsync(Path.Combine(ScreenshotFolder, "runs.png"), new ScreenshotOptions { FullPage = true });
        await page.TypeAsync("#filter", "lr=0.003");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#runs-table tbody tr').length === 1");
        Assert.Equal(sample.MlpId, await page.EvaluateExpressionAsync<string>("document.querySelector('#runs-table tbody tr').dataset.runId"));

        // Run page: the loss chart is drawn with every point, falling; the card and the sample image are there.
        await Navigate(page, "#/run/" + sample.CnnId);
        await page.WaitForFunctionAsync("id => document.querySelector('#run-id')?.textContent === id", sample.CnnId);
        var lossPath = await page.WaitForSelectorAsync("svg.chart[data-metric='train_loss'] path.series");
        string d = await lossPath.EvaluateFunctionAsync<string>("p => p.getAttribute('d')");
        var points = PathPoints(d);
        Assert.Equal(SampleStore.LossSteps, points.Count);
        Assert.True(points.Zip(points.Skip(1)).All(p => p.Second[0] > p.First[0]), d); // steps go right
        Assert.True(points.Zip(points.Skip(1)).All(p => p.Second[1] > p.First[1]), d); // the loss falls (SVG y grows downwards)
        double[] box = await page.EvaluateExpressionAsync<double[]>(
            "(() => { const b = document.querySelector(\"svg.chart[data-metric='train_loss'] path.series\").getBBox(); return [b.width, b.height]; })()");
        Assert.True(box[0] > 100 && box[1] > 50, $"loss curve box {box[0]} x {box[1]}");
        await page.WaitForSelectorAsync("#model-card h1");
        Assert.Equal("Fashion-MNIST CNN", await Text(page, "#model-card h1"));
        Assert.Equal(0, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#model-card script').length"));
        await page.WaitForFunctionAsync("() => { const i = document.querySelector('#images img'); return i && i.complete && i.naturalWidth === 8; }");
        Assert.Equal("0.001", await page.EvaluateExpressionAsync<string>(
            "[...document.querySelectorAll('#params-table tr')].find(r => r.children[0].textContent === 'lr').children[1].textContent"));
        await page.ScreenshotAsync(Path.Combine(ScreenshotFolder, "run.png"), new ScreenshotOptions { FullPage = true });

        // Log scale: the drawn heights are affine in log10(loss) and no longer in the loss; smoothing adds TensorBoard's
        // debiased moving average (computed here independently) over a faint raw trace.
        double[] losses = [.. Enumerable.Range(1, SampleStore.LossSteps).Select(SampleStore.CnnLoss)];
        Assert.True(AffineResidual(points.Select(p => p[1]), losses) < 0.1, "linear scale");
        await page.ClickAsync("#log-scale");
        var logPath = await page.WaitForSelectorAsync("svg.chart.log[data-metric='train_loss'] path.series");
        var logYs = PathPoints(await logPath.EvaluateFunctionAsync<string>("p => p.getAttribute('d')")).Select(p => p[1]).ToArray();
        Assert.True(AffineResidual(logYs, losses.Select(Math.Log10)) < 0.1, "log scale");
        Assert.True(AffineResidual(logYs, losses) > 2, "log scale drawn linearly");
        await page.EvaluateExpressionAsync("(() => { const s = document.querySelector('#smoothing'); s.value = '0.6'; s.dispatchEvent(new Event('input')); })()");
        var smoothedPath = await page.WaitForSelectorAsync("svg.chart.log[data-metric='train_loss'] path.smoothed");
        var smoothedYs = PathPoints(await smoothedPath.EvaluateFunctionAsync<string>("p => p.getAttribute('d')")).Select(p => p[1]).ToArray();
        double ema = 0;
        var expected = losses.Select((loss, i) => { ema = 0.6 * ema + 0.4 * loss; return Math.Log10(ema / (1 - Math.Pow(0.6, i + 1))); }).ToArray();
        Assert.Equal(SampleStore.LossSteps, smoothedYs.Length);
        Assert.True(AffineResidual(smoothedYs, expected) < 0.1, "smoothed");
        Assert.True(AffineResidual(smoothedYs, losses.Select(Math.Log10)) > 1, "smoothed curve equals the raw one");
        Assert.True(await page.EvaluateExpressionAsync<bool>("document.querySelector(\"svg.chart[data-metric='train_loss'] path.series\").classList.contains('raw')"));
        await page.ScreenshotAsync(Path.Combine(ScreenshotFolder, "run-log-smoothed.png"), new ScreenshotOptions { FullPage = true });
        await page.ClickAsync("#log-scale");
        await page.EvaluateExpressionAsync("(() => { const s = document.querySelector('#smoothing'); s.value = '0'; s.dispatchEvent(new Event('input')); })()");
        await page.WaitForFunctionAsync("() => !document.querySelector('svg.chart.log') && !document.querySelector('path.smoothed')");

        // Compare: both runs, their curves overlaid, the differing parameter marked.
        await Navigate(page, $"#/compare/{sample.CnnId},{sample.MlpId}");
        await page.WaitForSelectorAsync("#legend");
        await page.WaitForSelectorAsync("svg.chart[data-metric='train_loss'] path.series");
        Assert.Equal([sample.CnnId, sample.MlpId], await page.EvaluateExpressionAsync<string[]>(
            "[...document.querySelectorAll(\"svg.chart[data-metric='train_loss'] path.series\")].map(p => p.dataset.run)"));
        Assert.Equal([sample.CnnId, sample.MlpId], await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#legend span')].map(s => s.dataset.run)"));
        Assert.True(await page.EvaluateExpressionAsync<bool>("document.querySelector(\"#param-diff tr[data-key='lr']\").classList.contains('differs')"));
        Assert.False(await page.EvaluateExpressionAsync<bool>("document.querySelector(\"#param-diff tr[data-key='epochs']\").classList.contains('differs')"));
        await page.ScreenshotAsync(Path.Combine(ScreenshotFolder, "compare.png"), new ScreenshotOptions { FullPage = true });

        // Live: a running run's chart grows as points are logged, and its status turns FINISHED when it ends.
        await Navigate(page, "#/run/" + sample.Running.Id);
        await page.WaitForFunctionAsync("id => document.querySelector('#run-id')?.textContent === id", sample.Running.Id);
        await page.WaitForSelectorAsync("svg.chart[data-metric='train_loss'][data-points='5']");
        await page.WaitForSelectorAsync("#run-status [data-status='RUNNING']");
        for (int step = 6; step <= 12; step++) sample.Running.LogMetric("train_loss", 2.0 / step, step);
        sample.Running.Flush();
        await page.WaitForSelectorAsync("svg.chart[data-metric='train_loss'][data-points='12']");
        sample.Running.End(RunStatus.Finished);
        await page.WaitForSelectorAsync("#run-status [data-status='FINISHED']");

        foreach (string name in (string[])["runs.png", "run.png", "run-log-smoothed.png", "compare.png"])
        {
            byte[] png = await File.ReadAllBytesAsync(Path.Combine(ScreenshotFolder, name), TestContext.Current.CancellationToken);
            Assert.True(png.Length > 10_000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', $"{name}: {png.Length} bytes");
            TestContext.Current.AddAttachment("dashboard-" + name, png, "image/png");
        }
        Assert.True(errors.IsEmpty, string.Join(Environment.NewLine, errors));
        Assert.All(requests, url => Assert.StartsWith(origin + "/", url)); // nothing fetched from anywhere else
        Assert.Contains(requests, url => url.EndsWith("/app.js", StringComparison.Ordinal));
    }

    // The points of an SVG path made of M/L commands.
    static List<double[]> PathPoints(string d) => d.Split(['M', 'L'], StringSplitOptions.RemoveEmptyEntries)
        .Select(p => p.Trim().Split(' ').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToList();

    // The largest residual of the least-squares line y = a + b x: ~0 (the path's 0.1 px rounding) when y is drawn affine in x.
    static double AffineResidual(IEnumerable<double> ys, IEnumerable<double> xs)
    {
        double[] y = [.. ys], x = [.. xs];
        Assert.Equal(x.Length, y.Length);
        double mx = x.Average(), my = y.Average();
        double b = x.Zip(y).Sum(p => (p.First - mx) * (p.Second - my)) / x.Sum(v => (v - mx) * (v - mx));
        return x.Zip(y).Max(p => Math.Abs(my + b * (p.First - mx) - p.Second));
    }

    static Task<string> Text(IPage page, string selector) =>
        page.EvaluateFunctionAsync<string>("s => document.querySelector(s).textContent", selector);

    static Task Navigate(IPage page, string hash) => page.EvaluateFunctionAsync("h => { location.hash = h; }", hash);
}
