using System.CommandLine;
using Tessera.Data;
using Tessera.Export;
using Tessera.Formats;
using Tessera.Runtime;

namespace Tessera.Cli;

/// <summary>The <c>tessera</c> command tree. Commands parse, call the library and print; errors become one line and exit code 1 or 2.</summary>
public static class Cli
{
    /// <summary>Runs the command line and returns the process exit code.</summary>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        var root = new RootCommand("Tessera: train, evaluate, export and serve deep-learning models from .NET.")
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
            QuantizeCommand.Create(),
            BenchCommand.Create(),
        };
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        if (output is not null) config.Output = output;
        if (error is not null) config.Error = error;
        var err = error ?? Console.Error;
        if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 160; // no wrapped tables in logs
        try
        {
            return root.Parse(args).Invoke(config);
        }
        catch (Exception e) when (UserError(e) is string message)
        {
            err.WriteLine($"error: {message}");
            return e is ArgumentException ? 2 : 1;
        }
    }

    // Failures a user can fix get one line; anything else is a bug and keeps its stack trace.
    static string? UserError(Exception e) => e switch
    {
        Hub.HubException or TesseraFormatException or DatasetNotFoundException or FileNotFoundException or DirectoryNotFoundException
            or ArgumentException or InvalidOperationException or IOException or NotSupportedException
            or OnnxExportException or TesseraRuntimeException => e.Message,
        AggregateException { InnerExceptions.Count: 1 } a => UserError(a.InnerException!),
        _ => null,
    };
}
