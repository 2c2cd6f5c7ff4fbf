using System.Diagnostics;

namespace Tessera.Tracking.Runs;

/// <summary>Who is running: host, pid and process start time (so a reused pid is not mistaken for the original process).</summary>
static class ProcessIdentity
{
    internal static readonly string Host = Environment.MachineName;

    internal static readonly int ProcessId = Environment.ProcessId;

    internal static readonly long StartMs = StartTimeMs(Process.GetCurrentProcess()) ?? 0;

    static long? StartTimeMs(Process process)
    {
        try { return new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds(); }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or System.ComponentModel.Win32Exception) { return null; }
    }

    /// <summary>Whether the process <paramref name="pid"/> that started at <paramref name="startMs"/> still runs on this host.</summary>
    internal static bool IsAlive(int pid, long startMs)
    {
        if (pid == ProcessId) return Math.Abs(startMs - StartMs) <= 1000;
        try
        {
            using var process = Process.GetProcessById(pid);
            if (process.HasExited || IsZombie(pid)) return false;
            long? start = StartTimeMs(process);
            // Process start times are derived from boot time and clock ticks: allow a second of rounding.
            return start is null || Math.Abs(start.Value - startMs) <= 1000;
        }
        catch (ArgumentException) { return false; } // no such process
        catch (InvalidOperationException) { return false; }
    }

    // A killed process that its parent has not reaped yet still has a pid; Linux shows it in state Z (or X).
    static bool IsZombie(int pid)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is 'Z' or 'X';
        }
        catch (IOException) { return true; }
    }
}
