using System.Runtime.InteropServices;

namespace Tessera.Cli;

/// <summary>
/// Sets <c>OMP_WAIT_POLICY=PASSIVE</c> for libtorch's OpenMP threads unless the user set it. Token-by-token generation
/// runs many small operators with Tessera's decode kernels and their helper thread in between; spinning OpenMP workers
/// take the cores those need (measured: 47-50 vs 63-69 tokens/s for a GPT-2-small shape on 2 cores).
/// </summary>
internal static class OpenMpWaitPolicy
{
    /// <summary>Call before anything loads libtorch: OpenMP reads the variable once, when it starts.</summary>
    public static void PreferPassive()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        try
        {
            // .NET's Environment.SetEnvironmentVariable does not reach native getenv; setenv does.
            _ = SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0);
            Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // not glibc: leave OpenMP's default
        }
    }

    [DllImport("libc.so.6", EntryPoint = "setenv")]
    static extern int SetEnv(string name, string value, int overwrite);
}
