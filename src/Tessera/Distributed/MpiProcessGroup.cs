using System.Runtime.InteropServices;

namespace Tessera.Distributed;

/// <summary>
/// A process group over Open MPI (the processes <c>mpirun</c> starts), bound directly to libmpi's C API. The library
/// is loaded when a group is first created, never before, so Tessera runs without MPI installed. Open MPI passes
/// handles as addresses of exported globals (<c>ompi_mpi_comm_world</c>, <c>ompi_mpi_float</c>,
/// <c>ompi_mpi_op_sum</c>), which is what this binding reads. MPICH and its derivatives (Intel MPI, MVAPICH) use
/// integer handles instead (e.g. MPI_COMM_WORLD = 0x44000000) and <c>libmpi.so.12</c>; they are not supported yet.
/// </summary>
public sealed unsafe class MpiProcessGroup : IProcessGroup
{
    const int MpiThreadSerialized = 2;
    const int MaxCount = 1 << 30; // MPI counts are C ints: large buffers go in pieces

    static readonly Lock initLock = new();
    static MpiApi? api;
    static int openGroups;
    bool disposed;

    MpiProcessGroup(int rank, int worldSize, int localRank)
    {
        Rank = rank;
        WorldSize = worldSize;
        LocalRank = localRank;
    }

    /// <summary>
    /// The group this process was started in: an MPI group when <c>mpirun</c> (or another PMI launcher) started it,
    /// otherwise a <see cref="SingleProcessGroup"/>. Initializes MPI the first time it is needed.
    /// </summary>
    /// <exception cref="DistributedException">mpirun started the process but libmpi cannot be loaded, or MPI disagrees with the launcher's variables.</exception>
    public static IProcessGroup FromEnvironment()
    {
        var env = LaunchEnvironment.Read();
        return env.Launcher switch
        {
            Launcher.None => SingleProcessGroup.Instance,
            Launcher.Mpi => Initialize(env),
            _ => throw new DistributedException(
                $"this process was started with RANK={env.Rank} WORLD_SIZE={env.WorldSize} (torchrun-style) but Tessera's data-parallel training communicates over MPI: start it with mpirun -np {env.WorldSize} ..."),
        };
    }

    static MpiProcessGroup Initialize(LaunchEnvironment env)
    {
        lock (initLock)
        {
            api ??= MpiApi.Load();
            int initialized;
            api.Check(api.Initialized(&initialized), "MPI_Initialized");
            if (initialized == 0)
            {
                int provided;
                api.Check(api.InitThread(null, null, MpiThreadSerialized, &provided), "MPI_Init_thread");
            }
            int rank, size;
            api.Check(api.CommRank(api.CommWorld, &rank), "MPI_Comm_rank");
            api.Check(api.CommSize(api.CommWorld, &size), "MPI_Comm_size");
            if (env.WorldSize != size || env.Rank != rank)
                throw new DistributedException($"MPI reports rank {rank} of {size} but the launcher set rank {env.Rank} of {env.WorldSize}: mixed MPI installations?");
            openGroups++;
            return new MpiProcessGroup(rank, size, env.LocalRank);
        }
    }

    /// <inheritdoc />
    public int Rank { get; }

    /// <inheritdoc />
    public int WorldSize { get; }

    /// <inheritdoc />
    public int LocalRank { get; }

    MpiApi Api => disposed ? throw new ObjectDisposedException(nameof(MpiProcessGroup)) : api!;

    /// <inheritdoc />
    public void AllReduceSum(Span<float> values)
    {
        var a = Api;
        for (int start = 0; start < values.Length; start += MaxCount)
        {
            var piece = values.Slice(start, Math.Min(MaxCount, values.Length - start));
            fixed (float* p = piece) a.Check(a.Allreduce(MpiApi.InPlace, p, piece.Length, a.Float, a.Sum, a.CommWorld), "MPI_Allreduce");
        }
    }

    /// <inheritdoc />
    public void AllReduceSum(Span<double> values) => AllReduceDouble(values, Api.Sum);

    /// <inheritdoc />
    public void AllReduceMax(Span<double> values) => AllReduceDouble(values, Api.Max);

    void AllReduceDouble(Span<double> values, nint op)
    {
        var a = Api;
        for (int start = 0; start < values.Length; start += MaxCount)
        {
            var piece = values.Slice(start, Math.Min(MaxCount, values.Length - start));
            fixed (double* p = piece) a.Check(a.Allreduce(MpiApi.InPlace, p, piece.Length, a.Double, op, a.CommWorld), "MPI_Allreduce");
        }
    }

    /// <inheritdoc />
    public void Broadcast(Span<byte> values, int root = 0)
    {
        if ((uint)root >= (uint)WorldSize) throw new ArgumentOutOfRangeException(nameof(root), root, $"the group has ranks 0 to {WorldSize - 1}");
        var a = Api;
        for (int start = 0; start < values.Length; start += MaxCount)
        {
            var piece = values.Slice(start, Math.Min(MaxCount, values.Length - start));
            fixed (byte* p = piece) a.Check(a.Bcast(p, piece.Length, a.Byte, root, a.CommWorld), "MPI_Bcast");
        }
    }

    /// <inheritdoc />
    public void AllGather(ReadOnlySpan<double> send, Span<double> receive)
    {
        if (receive.Length != (long)send.Length * WorldSize)
            throw new ArgumentException($"receive must hold {send.Length * WorldSize} values, not {receive.Length}", nameof(receive));
        if (send.Length > MaxCount) throw new ArgumentException($"at most {MaxCount} values per member", nameof(send));
        var a = Api;
        fixed (double* s = send)
        fixed (double* r = receive)
            a.Check(a.Allgather(s, send.Length, a.Double, r, send.Length, a.Double, a.CommWorld), "MPI_Allgather");
    }

    /// <inheritdoc />
    public void Barrier() => Api.Check(Api.BarrierFn(Api.CommWorld), "MPI_Barrier");

    /// <inheritdoc />
    public void Abort(string reason, int exitCode = 1)
    {
        Console.Error.WriteLine($"error: rank {Rank} of {WorldSize} failed, ending every rank: {reason}");
        Console.Error.Flush();
        Api.AbortFn(Api.CommWorld, exitCode);
        Environment.Exit(exitCode); // MPI_Abort does not return; this only runs if an MPI does
    }

    /// <summary>Finalizes MPI when the last open group is disposed (MPI cannot be initialized again afterwards).</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        lock (initLock)
        {
            if (--openGroups > 0) return;
            int finalized;
            api!.Check(api.Finalized(&finalized), "MPI_Finalized");
            if (finalized == 0) api.Check(api.Finalize(), "MPI_Finalize");
        }
    }

    /// <summary>libmpi's entry points and predefined handles, resolved once.</summary>
    sealed class MpiApi
    {
        public static readonly void* InPlace = (void*)1; // Open MPI's MPI_IN_PLACE

        public nint CommWorld, Float, Double, Byte, Sum, Max;
        public delegate* unmanaged<int*, int> Initialized, Finalized;
        public delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
        public delegate* unmanaged<int> Finalize;
        public delegate* unmanaged<nint, int*, int> CommRank, CommSize;
        public delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
        public delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
        public delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
        public delegate* unmanaged<nint, int> BarrierFn;
        public delegate* unmanaged<nint, int, int> AbortFn;

        public static MpiApi Load()
        {
            nint lib = 0;
            foreach (var name in (string[])["libmpi.so.40", "libmpi.so"])
                if (NativeLibrary.TryLoad(name, out lib)) break;
            if (lib == 0)
                throw new DistributedException("Open MPI's libmpi.so.40 was not found: install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) and start the training with mpirun");
            nint Get(string symbol) => NativeLibrary.TryGetExport(lib, symbol, out var p) ? p
                : throw new DistributedException($"the loaded libmpi has no '{symbol}': Tessera supports Open MPI 4 or later (MPICH-style MPIs are not supported yet)");
            return new MpiApi
            {
                CommWorld = Get("ompi_mpi_comm_world"),
                Float = Get("ompi_mpi_float"),
                Double = Get("ompi_mpi_double"),
                Byte = Get("ompi_mpi_byte"),
                Sum = Get("ompi_mpi_op_sum"),
                Max = Get("ompi_mpi_op_max"),
                Initialized = (delegate* unmanaged<int*, int>)Get("MPI_Initialized"),
                Finalized = (delegate* unmanaged<int*, int>)Get("MPI_Finalized"),
                InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Get("MPI_Init_thread"),
                Finalize = (delegate* unmanaged<int>)Get("MPI_Finalize"),
                CommRank = (delegate* unmanaged<nint, int*, int>)Get("MPI_Comm_rank"),
                CommSize = (delegate* unmanaged<nint, int*, int>)Get("MPI_Comm_size"),
                Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Get("MPI_Allreduce"),
                Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Get("MPI_Bcast"),
                Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Get("MPI_Allgather"),
                BarrierFn = (delegate* unmanaged<nint, int>)Get("MPI_Barrier"),
                AbortFn = (delegate* unmanaged<nint, int, int>)Get("MPI_Abort"),
            };
        }

        public void Check(int code, string call)
        {
            if (code != 0) throw new DistributedException($"{call} failed with MPI error code {code}");
        }
    }
}
