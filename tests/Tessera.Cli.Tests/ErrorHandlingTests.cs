using System.CommandLine;
using Tessera.Formats;
using Tessera.Tests.Shared;

namespace Tessera.Cli.Tests;

/// <summary>
/// The CLI's three kinds of failure: a bad argument (one line, exit 2), one of Tessera's own errors (one line, exit 1)
/// and a bug, any other exception (its stack trace, exit 1).
/// </summary>
public class ErrorHandlingTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-errors-");
    public void Dispose() => temp.Dispose();

    /// <summary>The real commands plus one, <c>fail</c>, that throws what the test asks for.</summary>
    static (int Code, string Out, string Err) RunThrowing(Exception exception)
    {
        var root = Cli.CreateRoot();
        var fail = new Command("fail");
        fail.SetAction(new Func<ParseResult, int>(_ => throw exception));
        root.Subcommands.Add(fail);
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Run(root, ["fail"], output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("--lr must be a finite number above 0 (got NaN)", "train", "fashion-mnist", "--lr", "nan")]
    [InlineData("--lr must be a finite number above 0 (got Infinity)", "train", "fashion-mnist", "--lr", "Infinity")]
    [InlineData("--lr must be a finite number above 0 (got -1)", "train", "fashion-mnist", "--lr", "-1")]
    [InlineData("--threads must be at least 1 (got 0)", "train", "fashion-mnist", "--threads", "0")]
    [InlineData("--label-smoothing must be at least 0 and below 1 (got 2)", "train", "fashion-mnist", "--label-smoothing", "2")]
    [InlineData("--limit-train must be at least 1 (got -5)", "train", "fashion-mnist", "--limit-train", "-5")]
    [InlineData("--val-size must be at least 0 (got -1)", "train", "fashion-mnist", "--val-size", "-1")]
    [InlineData("--epochs", "train", "fashion-mnist", "--epochs", "five")]
    [InlineData("--config /proc is a folder without a config.json", "train", "fashion-mnist", "--config", "/proc")]
    [InlineData("--no-such-flag", "train", "fashion-mnist", "--no-such-flag")]
    [InlineData("transformer", "train", "fashion-mnist", "--model", "transformer")]
    [InlineData("--lr must be a finite number above 0 (got NaN)", "train", "lm", "--lr", "NaN")]
    [InlineData("--threads must be at least 1 (got 0)", "train", "lm", "--threads", "0")]
    [InlineData("fp16", "train", "lm", "--precision", "fp16")]
    [InlineData("--data", "finetune", "some-folder")]
    [InlineData("--top must be at least 1 (got 0)", "predict", "model", "image.png", "--top", "0")]
    [InlineData("--lora-dropout must be at least 0 and below 1 (got 1.5)", "finetune", "m", "--data", "d.jsonl", "--lora-dropout", "1.5")]
    [InlineData("--iterations must be at least 1 (got 0)", "bench", "model", "--iterations", "0")]
    public void Bad_arguments_are_one_line_and_exit_code_2_before_anything_runs(string expected, params string[] args)
    {
        string outDir = Path.Combine(temp.Path, "run");
        var (code, _, err) = CliRunner.Run([.. args, .. args[0] == "train" ? new[] { "--out", outDir } : []]);
        Assert.Equal(2, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.StartsWith("error: ", err);
        Assert.Contains(expected, err);
        Assert.DoesNotContain("   at ", err);
        Assert.False(Directory.Exists(outDir)); // refused before any training started
    }

    [Fact]
    public void A_value_the_library_refuses_is_an_argument_error_without_dotnet_parameter_names()
    {
        var (code, _, err) = RunThrowing(new ArgumentException("the prompt encodes to no tokens", "promptIds"));
        Assert.Equal(2, code);
        Assert.Equal("error: the prompt encodes to no tokens", err.Trim());
    }

    [Fact]
    public void Tessera_errors_are_one_line_and_exit_code_1()
    {
        var (code, _, err) = RunThrowing(new TesseraFormatException("model/config.json", "field \"n_embd\": expected a positive integer"));
        Assert.Equal(1, code);
        Assert.Equal("error: model/config.json: field \"n_embd\": expected a positive integer", err.Trim());

        // The same through a real command: a model folder whose config.json is not JSON.
        string folder = Path.Combine(temp.Path, "broken");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), "{ not json");
        var eval = CliRunner.Run("eval", folder);
        Assert.Equal(1, eval.Code);
        Assert.Single(eval.Err.Trim().Split('\n'));
        Assert.Contains("config.json", eval.Err);
        Assert.DoesNotContain("   at ", eval.Err);
    }

    [Fact]
    public void Every_specific_error_type_is_a_TesseraException()
    {
        Assert.IsAssignableFrom<TesseraException>(new TesseraFormatException(null, "x"));
        Assert.IsAssignableFrom<TesseraException>(new Hub.RepositoryNotFoundException("org/name"));
        Assert.IsAssignableFrom<TesseraException>(new Runtime.OnnxModelException("m.onnx", "x"));
        Assert.IsAssignableFrom<TesseraException>(new Runtime.Quantization.QuantizationException("m.onnx", "x"));
        Assert.IsAssignableFrom<TesseraException>(new Export.OnnxExportException("x"));
        Assert.IsAssignableFrom<TesseraException>(new Data.DatasetNotFoundException("/nowhere", "x"));
    }

    [Fact]
    public void A_bug_prints_its_stack_trace_and_exit_code_1()
    {
        Exception bug;
        try { throw new NullReferenceException("Object reference not set to an instance of an object."); }
        catch (NullReferenceException e) { bug = e; }
        var (code, _, err) = RunThrowing(bug);
        Assert.Equal(1, code);
        Assert.Contains("bug in Tessera", err);
        Assert.Contains("System.NullReferenceException", err);
        Assert.Contains("   at ", err);
        Assert.True(err.Trim().Split('\n').Length > 2, err);
    }

    [Fact]
    public void An_InvalidOperationException_from_the_library_is_a_bug_too()
    {
        var (code, _, err) = RunThrowing(new InvalidOperationException("Collection was modified"));
        Assert.Equal(1, code);
        Assert.Contains("bug in Tessera", err);
        Assert.Contains("System.InvalidOperationException: Collection was modified", err);
    }
}
