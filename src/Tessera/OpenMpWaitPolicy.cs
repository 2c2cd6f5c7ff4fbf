using System.Runtime.InteropServices;

namespace Tessera;

/// <summary>
/// Sets <c>OMP_WAIT_POLICY</c> for libtorch's OpenMP threads, unless the environment already sets it. Token-by-token
/// generation runs many small operators with Tessera's decode kernels and their helper thread in between; spinning
/// OpenMP workers take the cores those need (measured on 2 cores, GPT-2-small shape: 47-50 tokens/s spinning vs
/// 63-69 with PASSIVE).
/// </summary>
/// <remarks>
/// This changes process-wide state (an environment variable), so it is an application's decision: call it once, at
/// the start of <c>Main</c>, before any other thread runs and before anything loads libtorch. Tessera's library code
/// never calls it; the <c>tessera</c> command (for every command) and the benchmarks do, as applications. On Linux the variable is
/// set through libc's public <c>setenv</c> (glibc), because .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/>
/// only changes the runtime's own copy and never reaches the native <c>getenv</c> that OpenMP reads; <c>setenv</c> is
/// not safe while other threads read the environment, hence "first thing in <c>Main</c>". Elsewhere the call sets
/// nothing and OpenMP keeps its default; setting <c>OMP_WAIT_POLICY</c> before starting the process works everywhere.
/// </remarks>
public static class OpenMpWaitPolicy
{
    /// <summary>
    /// Sets the policy (<c>PASSIVE</c> or <c>ACTIVE</c>) for this process unless one is set. An application entry point
    /// only (see the remarks on <see cref="OpenMpWaitPolicy"/>): OpenMP reads the variable once, when libtorch loads.
    /// </summary>
    /// <returns>The policy in effect for this process ("unset" when none is set and this call set none).</returns>
    public static string Prefer(string policy = "PASSIVE")
    {
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is { } existing) return existing;
        if (!OperatingSystem.IsLinux()) return "unset";
        try
        {
            if (SetEnv("OMP_WAIT_POLICY", policy, 0) != 0) return "unset";
            Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", policy);
            return policy;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "unset"; // not glibc: OpenMP keeps its default
        }
    }

    [DllImport("libc.so.6", EntryPoint = "setenv")]
    static extern int SetEnv(string name, string value, int overwrite);
}
