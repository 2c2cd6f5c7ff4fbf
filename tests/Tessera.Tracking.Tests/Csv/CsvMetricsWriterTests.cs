using Tessera.Formats;
using Tessera.Tests.Shared;
using Tessera.Tracking.Csv;

namespace Tessera.Tracking.Tests.Csv;

public sealed class CsvMetricsWriterTests : IDisposable
{
    readonly TempDirectory _temp = new("tessera-csv-");

    public void Dispose() => _temp.Dispose();

    static Dictionary<string, double> M(params (string, double)[] values) => values.ToDictionary(v => v.Item1, v => v.Item2);

    [Fact]
    public void Rows_append_and_new_columns_rewrite_the_header_with_empty_cells()
    {
        string path = Path.Combine(_temp.Path, "metrics.csv");
        var csv = new CsvMetricsWriter(path);
        csv.Append(1, M(("loss", 0.5)));
        csv.Append(2, M(("loss", 0.25)));
        csv.Append(2, M(("val_loss", 0.75), ("val_acc", 0.125)));
        csv.Append(3, M(("loss", 0.1)));

        Assert.Equal(
            [
                "step,loss,val_loss,val_acc",
                "1,0.5,,",
                "2,0.25,,",
                "2,,0.75,0.125",
                "3,0.1,,",
            ],
            File.ReadAllLines(path));
        Assert.Equal(["loss", "val_loss", "val_acc"], csv.Columns);
        Assert.Single(Directory.GetFiles(_temp.Path)); // no temporary files left behind
    }

    [Fact]
    public void Values_use_invariant_culture_and_round_trip()
    {
        var previous = Thread.CurrentThread.CurrentCulture;
        Thread.CurrentThread.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
        try
        {
            string path = Path.Combine(_temp.Path, "m.csv");
            new CsvMetricsWriter(path).Append(7, M(("lr", 0.1 + 0.2), ("big", 1e300), ("nan", double.NaN)));
            string[] row = File.ReadAllLines(path)[1].Split(',');
            Assert.Equal("7", row[0]);
            Assert.Equal(0.1 + 0.2, double.Parse(row[1], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(1e300, double.Parse(row[2], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal("NaN", row[3]);
        }
        finally { Thread.CurrentThread.CurrentCulture = previous; }
    }

    [Fact]
    public void Reopening_continues_the_existing_columns()
    {
        string path = Path.Combine(_temp.Path, "metrics.csv");
        new CsvMetricsWriter(path).Append(1, M(("a", 1), ("b", 2)));
        var again = new CsvMetricsWriter(path);
        Assert.Equal(["a", "b"], again.Columns);
        again.Append(2, M(("b", 3)));
        again.Append(3, M(("c", 4)));
        Assert.Equal(["step,a,b,c", "1,1,2,", "2,,3,", "3,,,4"], File.ReadAllLines(path));
    }

    [Fact]
    public void Column_names_with_commas_and_quotes_are_quoted_and_reread()
    {
        string path = Path.Combine(_temp.Path, "metrics.csv");
        new CsvMetricsWriter(path).Append(1, M(("acc,top5", 0.5), ("say \"hi\"", 1)));
        Assert.Equal("step,\"acc,top5\",\"say \"\"hi\"\"\"", File.ReadAllLines(path)[0]);
        Assert.Equal(["acc,top5", "say \"hi\""], new CsvMetricsWriter(path).Columns);
    }

    [Fact]
    public void Existing_file_without_step_column_is_rejected()
    {
        string path = Path.Combine(_temp.Path, "other.csv");
        File.WriteAllText(path, "epoch,loss\n1,2\n");
        var e = Assert.Throws<TesseraFormatException>(() => new CsvMetricsWriter(path));
        Assert.Equal($"{Path.GetFullPath(path)}: first header column must be 'step', found 'epoch'", e.Message);
    }

    [Fact]
    public void Step_is_not_a_metric_name()
    {
        var csv = new CsvMetricsWriter(Path.Combine(_temp.Path, "m.csv"));
        var e = Assert.Throws<ArgumentException>(() => csv.Append(1, M(("step", 1))));
        Assert.StartsWith("'step' is the step column", e.Message);
    }
}
