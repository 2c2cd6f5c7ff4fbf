namespace Tessera.Cli.Tests;

/// <summary>
/// Tests that compare two seeded trainings bit for bit. Seeds and thread counts are process-wide in TorchSharp, so an
/// in-process CLI run racing another test's training draws from the same generator; this collection runs on its own.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SeededAlone
{
    public const string Name = "seeded trainings, run alone";
}
