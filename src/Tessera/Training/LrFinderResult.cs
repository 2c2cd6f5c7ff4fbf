using System.Globalization;
using System.Text;
using Tessera.Formats;

namespace Tessera.Training;

/// <summary>The curve an LR finder recorded and the learning rates it suggests.</summary>
public sealed class LrFinderResult
{
    /// <summary>Wraps a recorded curve and computes the suggestions, like fastai, on the points from
    /// <paramref name="skipStart"/> up to <paramref name="skipEnd"/> before the end (all points when that leaves fewer than two),
    /// cut before the first non-finite loss.</summary>
    /// <param name="learningRates">LR of each iteration, increasing.</param>
    /// <param name="losses">Smoothed loss of each iteration.</param>
    /// <param name="rawLosses">Unsmoothed loss of each iteration.</param>
    /// <param name="diverged">Whether the run stopped early because the loss blew up.</param>
    /// <param name="skipStart">Leading points the suggestions ignore (fastai: a tenth of the iterations).</param>
    /// <param name="skipEnd">Trailing points the suggestions ignore (fastai: 5).</param>
    /// <exception cref="ArgumentException">The lists are empty or differ in length.</exception>
    public LrFinderResult(IReadOnlyList<double> learningRates, IReadOnlyList<double> losses, IReadOnlyList<double> rawLosses,
        bool diverged, int skipStart = 0, int skipEnd = 0)
    {
        ArgumentNullException.ThrowIfNull(learningRates);
        ArgumentNullException.ThrowIfNull(losses);
        ArgumentNullException.ThrowIfNull(rawLosses);
        if (learningRates.Count == 0) throw new ArgumentException("The finder recorded no points.", nameof(learningRates));
        if (losses.Count != learningRates.Count || rawLosses.Count != learningRates.Count)
            throw new ArgumentException($"Got {learningRates.Count} learning rates, {losses.Count} losses and {rawLosses.Count} raw losses.");
        LearningRates = learningRates.ToArray();
        Losses = losses.ToArray();
        RawLosses = rawLosses.ToArray();
        Diverged = diverged;

        int end = Losses.Count - Math.Max(0, skipEnd);
        int start = Math.Max(0, skipStart);
        if (end - start < 2) (start, end) = (0, Losses.Count);
        for (int i = start; i < end; i++)
            if (!double.IsFinite(Losses[i])) { end = i; break; }
        if (end - start < 1) (start, end) = (0, Math.Max(1, end));
        WindowStart = start;
        WindowEnd = end;

        var lrs = LearningRates.Skip(start).Take(end - start).ToArray();
        var ls = Losses.Skip(start).Take(end - start).ToArray();
        SuggestedIndex = start + LrSuggestions.ValleyIndex(ls);
        SteepestLr = lrs[LrSuggestions.SteepestIndex(lrs, ls)];
        MinimumLr = lrs[LrSuggestions.MinimumIndex(ls)] / 10;
    }

    /// <summary>Learning rate of each recorded iteration.</summary>
    public IReadOnlyList<double> LearningRates { get; }

    /// <summary>Bias-corrected exponentially smoothed training loss of each iteration.</summary>
    public IReadOnlyList<double> Losses { get; }

    /// <summary>Training loss of each iteration as the module returned it.</summary>
    public IReadOnlyList<double> RawLosses { get; }

    /// <summary>Whether the run stopped before its last iteration because the loss diverged.</summary>
    public bool Diverged { get; }

    /// <summary>Index of <see cref="SuggestedLr"/> in <see cref="LearningRates"/>.</summary>
    public int SuggestedIndex { get; }

    /// <summary>fastai's "valley" suggestion (see <see cref="LrSuggestions.ValleyIndex"/>): the default choice.</summary>
    public double SuggestedLr => LearningRates[SuggestedIndex];

    /// <summary>fastai's "steep" suggestion: where the loss falls fastest.</summary>
    public double SteepestLr { get; }

    /// <summary>fastai's "minimum" suggestion: a tenth of the LR with the lowest smoothed loss.</summary>
    public double MinimumLr { get; }

    int WindowStart { get; }
    int WindowEnd { get; }

    /// <summary>Writes <c>iteration,lr,loss,smoothed_loss</c> rows (atomically).</summary>
    public void ToCsv(string path)
    {
        var sb = new StringBuilder("iteration,lr,loss,smoothed_loss\n");
        for (int i = 0; i < LearningRates.Count; i++)
            sb.Append(CultureInfo.InvariantCulture, $"{i},{LearningRates[i]:R},{RawLosses[i]:R},{Losses[i]:R}\n");
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>
    /// Saves a PNG of the smoothed loss against log10(learning rate) over the points the suggestions used, with the
    /// suggestions marked.
    /// </summary>
    public void SavePlot(string pngPath, int width = 800, int height = 500)
    {
        var xs = LearningRates.Skip(WindowStart).Take(WindowEnd - WindowStart).Select(Math.Log10).ToArray();
        var ys = Losses.Skip(WindowStart).Take(WindowEnd - WindowStart).ToArray();
        using var plot = new ScottPlot.Plot();
        var curve = plot.Add.Scatter(xs, ys);
        curve.MarkerSize = 0;
        curve.LineWidth = 2;
        curve.LegendText = "smoothed loss";

        var valley = plot.Add.Marker(Math.Log10(SuggestedLr), Losses[SuggestedIndex]);
        valley.MarkerSize = 12;
        valley.Color = ScottPlot.Colors.Red;
        valley.LegendText = string.Create(CultureInfo.InvariantCulture, $"valley {SuggestedLr:G3}");
        var steep = plot.Add.VerticalLine(Math.Log10(SteepestLr));
        steep.LinePattern = ScottPlot.LinePattern.Dashed;
        steep.Color = ScottPlot.Colors.Orange;
        steep.LegendText = string.Create(CultureInfo.InvariantCulture, $"steep {SteepestLr:G3}");
        var minimum = plot.Add.VerticalLine(Math.Log10(MinimumLr));
        minimum.LinePattern = ScottPlot.LinePattern.Dotted;
        minimum.Color = ScottPlot.Colors.Green;
        minimum.LegendText = string.Create(CultureInfo.InvariantCulture, $"minimum/10 {MinimumLr:G3}");

        plot.Title("Learning rate finder");
        plot.XLabel("log10(learning rate)");
        plot.YLabel("loss");
        plot.ShowLegend(ScottPlot.Alignment.LowerLeft); // the flat start of the curve sits top left, the blow-up right
        string? dir = Path.GetDirectoryName(Path.GetFullPath(pngPath));
        if (dir is not null) Directory.CreateDirectory(dir);
        plot.SavePng(pngPath, width, height);
    }
}
