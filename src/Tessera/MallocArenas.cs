using System.Runtime.InteropServices;

namespace Tessera;

/// <summary>
/// glibc malloc settings that keep a training process's resident memory bounded: <see cref="Limit"/> caps the number
/// of arenas, <see cref="FixMmapThreshold"/> keeps large blocks out of the heap. On arenas: libtorch allocates from
/// the training thread, its OpenMP workers and every data-loader producer thread; each new thread gets an arena of its own whose freed memory glibc
/// keeps, so a run's resident memory grows with every validation pass. Measured on 2 cores, <c>tessera train lm</c>
/// (gpt2-tiny, 40 steps, two validations): peak RSS 3.2 GB with glibc's default (8 arenas per core), 1.9 GB with 2.
/// </summary>
/// <remarks>
/// Process-wide state, so an application's decision: call it first thing in <c>Main</c>. Tessera's library code never
/// calls it; the <c>tessera</c> command does. Uses glibc's public <c>mallopt(M_ARENA_MAX)</c>; on other C libraries it
/// does nothing. Setting <c>MALLOC_ARENA_MAX</c> before starting the process has the same effect and wins.
/// </remarks>
public static class MallocArenas
{
    const int ArenaMax = -8; // M_ARENA_MAX in glibc's malloc.h
    const int MmapThreshold = -3; // M_MMAP_THRESHOLD in glibc's malloc.h

    /// <summary>glibc's initial mmap threshold (128 KiB), which <see cref="FixMmapThreshold"/> keeps by default.</summary>
    public const int DefaultMmapThreshold = 128 * 1024;

    /// <summary>Caps the arenas at <paramref name="arenas"/> unless <c>MALLOC_ARENA_MAX</c> is set; returns whether a cap was set.</summary>
    public static bool Limit(int arenas = 2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(arenas, 1);
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is not null) return false;
        try
        {
            return MallOpt(ArenaMax, arenas) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc
        }
    }

    /// <summary>
    /// Fixes glibc's mmap threshold at <paramref name="bytes"/> unless <c>MALLOC_MMAP_THRESHOLD_</c> is set; returns
    /// whether it was set. Blocks of at least that size then always come from <c>mmap</c> and go back to the system
    /// when freed.
    /// </summary>
    /// <remarks>
    /// By default glibc raises the threshold to the size of every mmapped block that is freed (up to 32 MiB), so after
    /// the first large tensors are freed, tensors of a few MiB come from the heap instead, and a heap fragmented by
    /// them keeps its pages. In <c>tessera train lm</c> this happened in the validation passes (forward without
    /// autograd frees activations at once, in another order than training does): measured on 2 cores (gpt2-tiny,
    /// batch 32x128), resident memory rose by about 850 MB during the first validation pass of 20 batches and to
    /// 1.3-1.8 GB over a few passes; with the threshold fixed at 128 KiB it stayed between 0.23 and 0.65 GB, as in
    /// training. The price is an <c>mmap</c>/<c>munmap</c> and fresh zeroed pages for every large tensor. Process-wide,
    /// so an application's decision, as <see cref="Limit"/>.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is not positive.</exception>
    public static bool FixMmapThreshold(int bytes = DefaultMmapThreshold)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 1);
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null) return false;
        try
        {
            return MallOpt(MmapThreshold, bytes) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc
        }
    }

    /// <summary>
    /// Returns the free memory of every glibc arena to the system (<c>malloc_trim(0)</c>); returns whether any was
    /// released. Not a setting: it changes no later behaviour, so library code may call it at quiet points (after a
    /// validation pass) where a heap fragmented by short-lived tensors would otherwise keep its pages.
    /// </summary>
    public static bool Trim()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return MallocTrim(0) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc
        }
    }

    [DllImport("libc.so.6", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);

    [DllImport("libc.so.6", EntryPoint = "mallopt")]
    static extern int MallOpt(int parameter, int value);
}
