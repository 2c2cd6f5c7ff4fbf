using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Models;

/// <summary>
/// Runs PyTorch 1.13 (Debian's python3-torch at /usr/bin/python3) as an independent reference. Tensors travel as raw
/// little-endian .bin files (float32, or int64 for BatchNorm's num_batches_tracked) plus a JSON index of
/// names, dtypes and shapes.
/// </summary>
static class PyTorchReference
{
    const string Python = "/usr/bin/python3";
    static readonly Lazy<bool> available = new(() =>
    {
        if (!File.Exists(Python)) return false;
        try
        {
            var (code, _) = Run(Python, ["-c", "import torch"], Path.GetTempPath());
            return code == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    });

    /// <summary>True when /usr/bin/python3 can import torch; parity tests return early otherwise.</summary>
    public static bool Available => available.Value;

    /// <summary>Python helpers every reference script starts with.</summary>
    public const string Prelude = """
        import json, sys, os
        import numpy as np
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        torch.set_grad_enabled(False)
        DIR = sys.argv[1]
        DTYPES = {"float32": (np.float32, torch.float32), "int64": (np.int64, torch.int64)}
        def load_tensors(index_name):
            out = {}
            with open(os.path.join(DIR, index_name)) as f:
                for e in json.load(f):
                    npt, _ = DTYPES[e["dtype"]]
                    a = np.fromfile(os.path.join(DIR, e["file"]), dtype=np.dtype(npt).newbyteorder("<"))
                    out[e["name"]] = torch.from_numpy(a.astype(npt).reshape(e["shape"]))
            return out
        def save_output(name, t):
            t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tofile(os.path.join(DIR, name))

        """;

    /// <summary>Writes every entry of <paramref name="module"/>'s state_dict (parameters and buffers) under <paramref name="dir"/>.</summary>
    public static void ExportStateDict(nn.Module module, string dir, string indexName = "state.json") =>
        ExportTensors(module.state_dict().Select(kv => (kv.Key, kv.Value)), dir, indexName);

    /// <summary>Writes named tensors as raw little-endian files plus a JSON index.</summary>
    public static void ExportTensors(IEnumerable<(string Name, Tensor Tensor)> tensors, string dir, string indexName)
    {
        var index = new List<object>();
        int i = 0;
        foreach (var (name, t) in tensors)
        {
            string file = $"{Path.GetFileNameWithoutExtension(indexName)}_{i++}.bin";
            using var cpu = t.detach().cpu().contiguous();
            byte[] bytes;
            string dtype;
            if (cpu.dtype == ScalarType.Int64)
            {
                dtype = "int64";
                bytes = ToLittleEndian(cpu.data<long>().ToArray(), sizeof(long));
            }
            else
            {
                dtype = "float32";
                using var f = cpu.to_type(ScalarType.Float32);
                bytes = ToLittleEndian(f.data<float>().ToArray(), sizeof(float));
            }
            File.WriteAllBytes(Path.Combine(dir, file), bytes);
            index.Add(new { name, dtype, shape = cpu.shape, file });
        }
        File.WriteAllText(Path.Combine(dir, indexName), JsonSerializer.Serialize(index));
    }

    static byte[] ToLittleEndian<T>(T[] values, int size) where T : unmanaged
    {
        byte[] bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        if (!BitConverter.IsLittleEndian)
            for (int o = 0; o < bytes.Length; o += size) Array.Reverse(bytes, o, size);
        return bytes;
    }

    /// <summary>Reads a raw little-endian float32 file written by the script's <c>save_output</c>.</summary>
    public static float[] ReadFloats(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var result = new float[bytes.Length / 4];
        for (int i = 0; i < result.Length; i++)
            result[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
        return result;
    }

    /// <summary>Runs <see cref="Prelude"/> + <paramref name="script"/> with the directory as argv[1]; fails the test on a non-zero exit.</summary>
    public static void RunScript(string script, string dir)
    {
        string path = Path.Combine(dir, "reference.py");
        File.WriteAllText(path, Prelude + script);
        var (code, output) = Run(Python, [path, dir], dir);
        Assert.True(code == 0, $"reference script failed ({code}):\n{output}");
    }

    static (int Code, string Output) Run(string exe, string[] args, string workDir)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDir };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    /// <summary>Asserts that <paramref name="actual"/> has as many elements as <paramref name="expected"/> and differs by at most <paramref name="tolerance"/>.</summary>
    public static void AssertClose(float[] expected, Tensor actual, double tolerance)
    {
        using var flat = actual.detach().cpu().to_type(ScalarType.Float32).contiguous().flatten();
        float[] ours = flat.data<float>().ToArray();
        Assert.Equal(expected.Length, ours.Length);
        double maxErr = 0;
        for (int i = 0; i < ours.Length; i++) maxErr = Math.Max(maxErr, Math.Abs(ours[i] - expected[i]));
        Assert.True(maxErr <= tolerance, $"max abs error {maxErr:g3} > {tolerance:g3}");
        Assert.Contains(ours, v => v != 0); // guards against comparing two all-zero outputs
    }

    /// <summary>A fresh temporary directory, deleted when disposed.</summary>
    public sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("tessera-models-").FullName;
        public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
    }
}
