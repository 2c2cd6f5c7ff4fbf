using System.CommandLine;
using System.CommandLine.Invocation;

namespace Tessera.Cli;

/// <summary>
/// The <c>tessera</c> command tree. Commands parse, call the library and print. A bad argument is one line and exit
/// code 2; an expected failure (a <see cref="TesseraException"/>, a file system error) one line and exit code 1; any
/// other exception is a bug in Tessera and prints its stack trace, exit code 1.
/// </summary>
public static class Cli
{
    /// <summary>Runs the command line and returns the process exit code.</summary>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null) => Run(CreateRoot(), args, output, error);

    /// <summary>Every <c>tessera</c> command.</summary>
    internal static RootCommand CreateRoot() => CliTracking.AddOptions(
        new("Tessera: train, evaluate, export and serve deep-learning models from .NET.")
        {
            TrainCommand.Create(),
            EvalCommand.Create(),
            PredictCommand.Create(),
            LrFindCommand.Create(),
            HubCommand.Create(),
            GenerateCommand.Create(),
            FinetuneCommand.Create(),
            MergeCommand.Create(),
            ExportCommand.Create(),
            ConvertCommand.Create(),
            QuantizeCommand.Create(),
            BenchCommand.Create(),
            RunsCommand.Create(),
            ServeCommand.Create(),
            LoadTestCommand.Create(),
            SampleCommand.Create(),
            UiCommand.Create(),
        });

    /// <summary>Runs <paramref name="root"/> on <paramref name="args"/> with the CLI's error handling and exit codes.</summary>
    internal static int Run(RootCommand root, string[] args, TextWriter? output, TextWriter? error)
    {
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        if (output is not null) config.Output = output;
        if (error is not null) config.Error = error;
        var err = error ?? Console.Error;
        if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 160; // no wrapped tables in logs
        var parsed = root.Parse(args);
        if (parsed.Action is ParseErrorAction)
        {
            if (args.Length == 0) parsed.Invoke(config); // bare `tessera`: the usage text, then exit 2
            else foreach (var parseError in parsed.Errors) err.WriteLine($"error: {OneLine(parseError.Message)}");
            return UsageExitCode;
        }
        // Commands that train, export, quantize, evaluate or benchmark are recorded as runs (see CliTracking).
        var run = CliTracking.Begin(parsed, args, err);
        try
        {
            int exitCode = parsed.Invoke(config);
            run?.End(exitCode, null);
            return exitCode;
        }
        catch (Exception e)
        {
            var (message, code) = Describe(e);
            run?.End(code, e);
            err.WriteLine(message is null ? $"error: this is a bug in Tessera; please report it with the trace below.{Environment.NewLine}{e}" : $"error: {message}");
            return code;
        }
    }

    /// <summary>Exit code of a bad argument: an unknown or malformed option, a value out of range, a missing argument.</summary>
    public const int UsageExitCode = 2;

    /// <summary>Exit code of a failure: a missing or malformed file, a model that cannot do what was asked, a bug.</summary>
    public const int FailureExitCode = 1;

    // Expected failures get one line: Tessera's own errors, a value the library refused as an argument (the CLI passes
    // the user's values through), what Tessera does not support, and the file system's errors. Anything else is a
    // bug and keeps its stack trace (message null).
    static (string? Message, int Code) Describe(Exception e) => e switch
    {
        UsageException => (e.Message, UsageExitCode),
        TesseraException or IOException or UnauthorizedAccessException or NotSupportedException => (e.Message, FailureExitCode),
        ArgumentNullException => (null, FailureExitCode), // the CLI never passes a user's null: our bug
        ArgumentException a => (WithoutParameterName(a), UsageExitCode),
        AggregateException { InnerExceptions.Count: 1 } a => Describe(a.InnerException!),
        _ => (null, FailureExitCode),
    };

    // System.CommandLine lists a choice's values one per line: "Must be one of:\n\t'cnn'\n\t'mlp'" -> "Must be one of: 'cnn', 'mlp'".
    static string OneLine(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return lines.Length <= 1 ? message.Trim() : $"{lines[0]} {string.Join(", ", lines[1..])}";
    }

    // ArgumentException.Message appends " (Parameter 'promptIds')": .NET's name, not the user's.
    static string WithoutParameterName(ArgumentException e)
    {
        string suffix = $" (Parameter '{e.ParamName}')";
        return e.ParamName is not null && e.Message.EndsWith(suffix, StringComparison.Ordinal) ? e.Message[..^suffix.Length] : e.Message;
    }
}
