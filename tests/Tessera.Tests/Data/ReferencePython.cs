using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Tessera.Tests.Data;

/// <summary>
/// Runs Debian's /usr/bin/python3 (numpy + torch 1.13) as an independent reference. Tests that need it return
/// early when it is missing (xunit 2 has no runtime skip).
/// </summary>
internal static class ReferencePython
{
    private const string Exe = "/usr/bin/python3";
    private static readonly Lazy<bool> HasNumpy = new(() => Probe("import numpy"));
    private static readonly Lazy<bool> HasTorch = new(() => Probe("import torch"));

    public static bool NumpyAvailable => HasNumpy.Value;

    public static bool TorchAvailable => HasTorch.Value;

    public static string Run(string script, params string[] args)
    {
        var psi = new ProcessStartInfo(Exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"python failed ({p.ExitCode}): {stderr.Result}");
        return stdout.Result;
    }

    public static void WriteFloats(string path, float[] values) =>
        File.WriteAllBytes(path, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public static float[] ReadFloats(string path) => MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray();

    private static bool Probe(string code)
    {
        if (!File.Exists(Exe)) return false;
        try { Run(code); return true; }
        catch (InvalidOperationException) { return false; }
    }
}
