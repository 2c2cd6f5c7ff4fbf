namespace Tessera.Distributed;

/// <summary>Which launcher started this process, as its environment variables tell.</summary>
public enum Launcher
{
    /// <summary>No launcher: a single process.</summary>
    None,

    /// <summary>An MPI launcher (Open MPI's mpirun: OMPI_COMM_WORLD_*, or a PMI launcher such as srun/Hydra: PMI_*).</summary>
    Mpi,

    /// <summary>torchrun-style variables (RANK, WORLD_SIZE, LOCAL_RANK) without MPI.</summary>
    TorchRun,
}

/// <summary>Rank, world size and local rank as the launcher published them in the environment.</summary>
/// <param name="Launcher">Which launcher's variables were found.</param>
/// <param name="Rank">This process's rank (0 without a launcher).</param>
/// <param name="WorldSize">How many processes were launched (1 without a launcher).</param>
/// <param name="LocalRank">This process's rank on its machine.</param>
public sealed record LaunchEnvironment(Launcher Launcher, int Rank, int WorldSize, int LocalRank)
{
    /// <summary>Reads the process environment: Open MPI's OMPI_COMM_WORLD_*, then PMI_*, then torchrun's RANK/WORLD_SIZE.</summary>
    public static LaunchEnvironment Read() => Read(name => Environment.GetEnvironmentVariable(name));

    /// <summary>Reads the variables through <paramref name="lookup"/> (for tests).</summary>
    /// <exception cref="DistributedException">A variable is present but not a valid number, or the rank is outside the world.</exception>
    public static LaunchEnvironment Read(Func<string, string?> lookup)
    {
        if (Find(lookup, Launcher.Mpi, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK") is { } ompi) return ompi;
        if (Find(lookup, Launcher.Mpi, "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID") is { } pmi) return pmi;
        if (Find(lookup, Launcher.TorchRun, "RANK", "WORLD_SIZE", "LOCAL_RANK") is { } torchrun) return torchrun;
        return new LaunchEnvironment(Launcher.None, 0, 1, 0);
    }

    static LaunchEnvironment? Find(Func<string, string?> lookup, Launcher launcher, string rankName, string sizeName, string localName)
    {
        string? rankText = lookup(rankName), sizeText = lookup(sizeName);
        if (rankText is null || sizeText is null) return null;
        int rank = Parse(rankText, rankName), size = Parse(sizeText, sizeName);
        int local = lookup(localName) is { } l ? Parse(l, localName) : rank;
        if (size < 1 || rank >= size)
            throw new DistributedException($"{rankName}={rank} and {sizeName}={size}: expected 0 <= rank < size");
        return new LaunchEnvironment(launcher, rank, size, local);
    }

    static int Parse(string text, string name) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int v) ? v
            : throw new DistributedException($"environment variable {name}='{text}' is not a non-negative integer");
}
