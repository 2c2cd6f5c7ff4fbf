namespace Tessera.Cli.Tests;

/// <summary>Tests that set HF_* environment variables, which every in-process HubClient reads: they run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HubEnvironmentAlone
{
    public const string Name = "HF_* environment, run alone";
}
