using System.CommandLine;
using Tessera.Training;

namespace Tessera.Cli;

/// <summary><c>--precision 32-true|bf16-mixed</c> for the training commands (Lightning's names).</summary>
static class PrecisionOption
{
    public static Option<string> Create() => new Option<string>("--precision")
    {
        Description = "32-true (fp32) or bf16-mixed (bf16 forward/backward on bf16 copies of the weights, fp32 master weights, optimizer and loss; the saved model is fp32)",
        DefaultValueFactory = _ => "32-true",
    }.AcceptOnlyFromAmong([.. TrainerOptions.PrecisionNames]);
}
