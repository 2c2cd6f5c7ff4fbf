using System.CommandLine;
using Tessera.Dashboard;
using Tessera.Tracking.Runs;

namespace Tessera.Cli;

/// <summary><c>tessera ui</c>: the runs dashboard in the browser (read-only; 127.0.0.1 unless --host says otherwise).</summary>
static class UiCommand
{
    public static Command Create()
    {
        var host = new Option<string>("--host") { Description = "Address to listen on (0.0.0.0 shows the dashboard to the network: it has no login)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port (0 picks a free one; the address is printed)", DefaultValueFactory = _ => 5000 };
        var refresh = new Option<double>("--refresh") { Description = "Seconds between updates of a running run in the page", DefaultValueFactory = _ => 2 };
        var command = new Command("ui", "Dashboard of the runs store in the browser: runs table, run pages with metric charts, model card and samples, compare view, live updates of running runs")
        {
            host, port, refresh,
        };
        // Synchronous on purpose (like serve): the host handles SIGTERM/Ctrl+C itself and stops before Run returns 0.
        command.SetAction(parse =>
        {
            // Runs sent to an MLflow server (--tracking-uri http://...) are in the local store too: that one is shown.
            var (uri, server) = CliMlflow.SplitTrackingUri(parse.GetValue<string?>(CliTracking.TrackingUriOption));
            string storePath = RunStore.ResolvePath(uri);
            if (parse.GetValue(refresh) is var seconds && !(seconds > 0)) throw new UsageException($"--refresh must be positive (got {seconds})");
            var output = parse.InvocationConfiguration.Output;
            var options = new DashboardOptions { Host = parse.GetValue(host)!, Port = parse.GetValue(port), RefreshInterval = TimeSpan.FromSeconds(seconds) };
            var dashboard = new DashboardServer(options, storePath);
            if (server is not null) output.WriteLine($"runs sent to the MLflow server {server} are shown from the local runs store (MLflow has its own UI)");
            try
            {
                dashboard.RunAsync(address =>
                {
                    output.WriteLine($"dashboard of {dashboard.StorePath} on {address.ToString().TrimEnd('/')} (Ctrl+C stops it)");
                    output.Flush();
                }).GetAwaiter().GetResult();
            }
            finally
            {
                dashboard.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            output.WriteLine("stopped");
            return 0;
        });
        return command;
    }
}
