using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Tessera.Tests.Shared;

/// <summary>
/// Runs reference scripts with Debian's /usr/bin/python3 (python3-torch 1.13, numpy, yaml, onnx); the python3 on
/// PATH may be another interpreter without them. Tests that need a module call <see cref="Requires.Python"/>, which
/// skips them when <see cref="Has"/> says it is missing; CI installs them. Arrays travel as raw little-endian files.
/// </summary>
internal static class ReferencePython
{
    /// <summary>The interpreter every reference script runs with.</summary>
    public const string Interpreter = "/usr/bin/python3";

    static readonly ConcurrentDictionary<string, Lazy<bool>> modules = new();

    /// <summary>Whether <see cref="Interpreter"/> exists (enough for scripts that use only the standard library).</summary>
    public static bool Available => File.Exists(Interpreter);

    /// <summary>Whether <see cref="Interpreter"/> can import <paramref name="module"/>; asked once per module.</summary>
    public static bool Has(string module) =>
        modules.GetOrAdd(module, m => new Lazy<bool>(() => Available && TryRun(null, $"import {m}", [], out _, out _))).Value;

    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/> as sys.argv[1:] and returns its stdout.</summary>
    /// <exception cref="InvalidOperationException">The script exited with a non-zero code; the message holds its stderr.</exception>
    public static string Run(string script, params string[] args) => RunIn(null, script, args);

    /// <summary>Like <see cref="Run"/>, with <paramref name="dir"/> as the working directory (the temp directory when null).</summary>
    /// <exception cref="InvalidOperationException">The script exited with a non-zero code; the message holds its stderr.</exception>
    public static string RunIn(string? dir, string script, params string[] args) =>
        TryRun(dir, script, args, out string stdout, out string stderr)
            ? stdout
            : throw new InvalidOperationException($"Reference script failed:\n{stderr}");

    static bool TryRun(string? dir, string script, string[] args, out string stdout, out string stderr)
    {
        string path = Path.Combine(Path.GetTempPath(), $"tessera-ref-{Guid.NewGuid():N}.py");
        File.WriteAllText(path, script);
        try
        {
            var psi = new ProcessStartInfo(Interpreter)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = dir ?? Path.GetTempPath(),
            };
            psi.ArgumentList.Add(path);
            foreach (string a in args) psi.ArgumentList.Add(a);
            using var process = Process.Start(psi)!;
            Task<string> stdoutTask = process.StandardOutput.ReadToEndAsync();
            Task<string> stderrTask = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            stdout = stdoutTask.Result;
            stderr = stderrTask.Result;
            return process.ExitCode == 0;
        }
        catch (Win32Exception e)
        {
            stdout = "";
            stderr = e.Message;
            return false;
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Writes <paramref name="values"/> as raw little-endian float32 (numpy <c>np.fromfile(path, "&lt;f4")</c>).</summary>
    public static void WriteFloats(string path, ReadOnlySpan<float> values) => WriteLittleEndian(path, values);

    /// <summary>Reads a raw little-endian float32 file (numpy <c>a.astype("&lt;f4").tofile(path)</c>).</summary>
    public static float[] ReadFloats(string path) => ReadLittleEndian<float>(path);

    /// <summary>Writes <paramref name="values"/> as raw little-endian int64 (numpy <c>np.fromfile(path, "&lt;i8")</c>).</summary>
    public static void WriteLongs(string path, ReadOnlySpan<long> values) => WriteLittleEndian(path, values);

    /// <summary>Reads a raw little-endian int64 file.</summary>
    public static long[] ReadLongs(string path) => ReadLittleEndian<long>(path);

    static void WriteLittleEndian<T>(string path, ReadOnlySpan<T> values) where T : unmanaged
    {
        byte[] bytes = MemoryMarshal.AsBytes(values).ToArray();
        if (!BitConverter.IsLittleEndian) ReverseEach<T>(bytes);
        File.WriteAllBytes(path, bytes);
    }

    static T[] ReadLittleEndian<T>(string path) where T : unmanaged
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (!BitConverter.IsLittleEndian) ReverseEach<T>(bytes);
        return MemoryMarshal.Cast<byte, T>(bytes).ToArray();
    }

    static void ReverseEach<T>(byte[] bytes) where T : unmanaged
    {
        int size = Marshal.SizeOf<T>();
        for (int o = 0; o + size <= bytes.Length; o += size) Array.Reverse(bytes, o, size);
    }
}
