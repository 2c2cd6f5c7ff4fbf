using System.Runtime.InteropServices;

namespace Tessera;

/// <summary>
/// Sets <c>OMP_WAIT_POLICY</c> for libtorch's OpenMP threads, unless the environment already sets it. Token-by-token
/// generation runs many small operators with Tessera's decode kernels and their helper thread in between; spinning
/// OpenMP workers take the cores those need (measured on 2 cores, GPT-2-small shape: 47-50 tokens/s spinning vs
/// 63-69 with PASSIVE).
/// </summary>
public static class OpenMpWaitPolicy
{
    /// <summary>Sets the policy (<c>PASSIVE</c> or <c>ACTIVE</c>) unless one is set; call it before anything loads libtorch, since OpenMP reads the variable once, when it starts.</summary>
    /// <returns>The policy in effect for this process ("unset" when none is set and this call set none).</returns>
    public static string Prefer(string policy = "PASSIVE")
    {
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is { } existing) return existing;
        if (!OperatingSystem.IsLinux()) return "unset";
        try
        {
            // .NET's Environment.SetEnvironmentVariable does not reach native getenv; setenv does.
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
