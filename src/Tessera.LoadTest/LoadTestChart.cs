using System.Globalization;
using ScottPlot;

namespace Tessera.LoadTest;

/// <summary>
/// Draws a report: throughput (output tokens/s for text, requests/s for a classifier) on the left axis and latency
/// (end-to-end p50 and p99, and TTFT p99 for streams) on the right, against concurrency on a log2 axis for the
/// closed-loop levels, or against the arrival rate when there are only open-loop levels.
/// </summary>
public static class LoadTestChart
{
    /// <summary>Writes the chart of <paramref name="report"/> as a PNG to <paramref name="pngPath"/>.</summary>
    public static void Save(LoadTestReport report, string pngPath, int width = 900, int height = 540)
    {
        var closed = report.Levels.Where(l => l.Loop == "closed").ToList();
        bool byRate = closed.Count == 0;
        var levels = byRate ? [.. report.Levels] : closed;
        double[] xs = [.. levels.Select(l => byRate ? l.RatePerSecond ?? 0 : Math.Log2(l.Concurrency))];
        bool tokens = report.Mode != LoadTestMode.Classifier;

        using var plot = new Plot();
        var throughput = plot.Add.Scatter(xs, [.. levels.Select(l => tokens ? l.OutputTokensPerSecond : l.RequestsPerSecond)]);
        throughput.LegendText = tokens ? "output tokens/s" : "requests/s";
        throughput.LineWidth = 2;
        throughput.MarkerSize = 8;
        AddLatency(plot, xs, levels.Select(l => l.EndToEnd?.P50Ms), "e2e p50 ms", LinePattern.Solid);
        AddLatency(plot, xs, levels.Select(l => l.EndToEnd?.P99Ms), "e2e p99 ms", LinePattern.Dashed);
        if (report.Stream) AddLatency(plot, xs, levels.Select(l => l.TimeToFirstToken?.P99Ms), "TTFT p99 ms", LinePattern.Dotted);

        if (!byRate)
        {
            var ticks = new ScottPlot.TickGenerators.NumericManual();
            foreach (var level in levels) ticks.AddMajor(Math.Log2(level.Concurrency), level.Concurrency.ToString(CultureInfo.InvariantCulture));
            plot.Axes.Bottom.TickGenerator = ticks;
        }
        plot.Title($"{report.Mode.ToString().ToLowerInvariant()}{(report.Stream ? " (stream)" : "")} — {report.Endpoint}");
        plot.XLabel(byRate ? "offered rate (requests/s)" : "concurrency (clients)");
        plot.YLabel(tokens ? "output tokens/s" : "requests/s");
        plot.Axes.Right.Label.Text = "latency (ms)";
        plot.Axes.Margins(0.08, 0.1);
        plot.ShowLegend(Alignment.UpperLeft);
        string? dir = Path.GetDirectoryName(Path.GetFullPath(pngPath));
        if (dir is not null) Directory.CreateDirectory(dir);
        plot.SavePng(pngPath, width, height);
    }

    static void AddLatency(Plot plot, double[] xs, IEnumerable<double?> ms, string label, LinePattern pattern)
    {
        double[] ys = [.. ms.Select(v => v ?? double.NaN)];
        if (ys.All(double.IsNaN)) return;
        var line = plot.Add.Scatter(xs, ys);
        line.Axes.YAxis = plot.Axes.Right;
        line.LegendText = label;
        line.LinePattern = pattern;
        line.MarkerSize = 5;
    }
}
