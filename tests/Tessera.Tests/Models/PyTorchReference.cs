using System.Text.Json;
using Tessera.Tests.Shared;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Models;

/// <summary>
/// PyTorch 1.13 (Debian's python3-torch, run by <see cref="ReferencePython"/>) as an independent reference for the
/// model parity tests; they return early unless <c>ReferencePython.Has("torch")</c>. Tensors travel as raw
/// little-endian .bin files (float32, or int64 for BatchNorm's num_batches_tracked) plus a JSON index of
/// names, dtypes and shapes.
/// </summary>
static class PyTorchReference
{
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
            string dtype;
            string path = Path.Combine(dir, file);
            if (cpu.dtype == ScalarType.Int64)
            {
                dtype = "int64";
                ReferencePython.WriteLongs(path, cpu.data<long>().ToArray());
            }
            else
            {
                dtype = "float32";
                using var f = cpu.to_type(ScalarType.Float32);
                ReferencePython.WriteFloats(path, f.data<float>().ToArray());
            }
            index.Add(new { name, dtype, shape = cpu.shape, file });
        }
        File.WriteAllText(Path.Combine(dir, indexName), JsonSerializer.Serialize(index));
    }

    /// <summary>Runs <see cref="Prelude"/> + <paramref name="script"/> with the directory as argv[1]; throws with its stderr on a non-zero exit.</summary>
    public static void RunScript(string script, string dir) => ReferencePython.RunIn(dir, Prelude + script, dir);

    /// <summary>
    /// Puts <paramref name="model"/> in eval mode and asserts that its output on <paramref name="x"/> matches PyTorch's:
    /// the script defines the reference module in <paramref name="pythonClass"/>, builds it with
    /// <paramref name="pythonConstructor"/>, loads our state_dict strictly and runs it in eval mode.
    /// </summary>
    public static void AssertEvalMatches(nn.Module<Tensor, Tensor> model, Tensor x, string pythonClass, string pythonConstructor, double tolerance = 1e-4)
    {
        using var dir = new TempDirectory("tessera-models-");
        model.eval();
        ExportStateDict(model, dir.Path);
        ExportTensors([("x", x)], dir.Path, "input.json");
        Tensor ours;
        using (no_grad()) ours = model.call(x);

        RunScript($$"""
            {{pythonClass}}

            m = {{pythonConstructor}}
            m.load_state_dict(load_tensors("state.json"), strict=True)
            m.eval()
            save_output("out.bin", m(load_tensors("input.json")["x"]))
            """, dir.Path);

        AssertClose(ReferencePython.ReadFloats(Path.Combine(dir.Path, "out.bin")), ours, tolerance);
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
}
