using Tessera.Tracking.Csv;

namespace Tessera.Tracking.Tests.Csv;

public sealed class CsvMetricsReaderTests
{
    [Fact]
    public void Reads_back_what_the_writer_wrote_leaving_out_empty_cells()
    {
        using var temp = new TempDirectory();
        var writer = new CsvMetricsWriter(temp.File("metrics.csv"));
        writer.Append(1, new Dictionary<string, double> { ["loss"] = 0.5 });
        writer.Append(2, new Dictionary<string, double> { ["loss"] = 0.25, ["val,acc"] = 0.875 });
        var rows = CsvMetricsReader.Read(temp.File("metrics.csv")).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal([1L, 2L], rows.Select(r => r.Step));
        Assert.Equal(new Dictionary<string, double> { ["loss"] = 0.5 }, rows[0].Metrics);
        Assert.Equal(new Dictionary<string, double> { ["loss"] = 0.25, ["val,acc"] = 0.875 }, rows[1].Metrics);
    }

    [Fact]
    public void A_cell_that_is_not_a_number_names_the_line_and_column()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("m.csv"), "step,loss\n1,abc\n");
        var e = Assert.Throws<Tessera.Formats.TesseraFormatException>(() => CsvMetricsReader.Read(temp.File("m.csv")).ToList());
        Assert.Contains("line 2, column 'loss'", e.Message);
    }
}
