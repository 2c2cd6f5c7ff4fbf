using System.Diagnostics;

namespace Tessera.Runtime.Tests.Quantization;

/// <summary>
/// Debian's python3-onnx + python3-numpy for /usr/bin/python3 (the pyenv python3 on PATH lacks them), used to build float
/// test models independently of the C# code and to run onnx.checker on quantized ones. Tests skip when it is
/// missing (<c>Requires.Python("onnx", "numpy")</c>); CI installs it.
/// </summary>
internal static class PythonOnnx
{
    const string Python = "/usr/bin/python3";
    static readonly Lazy<bool> HasOnnx = new(() =>
    {
        if (!File.Exists(Python)) return false;
        try { return Run("-c", "import onnx, numpy").Code == 0; }
        catch (System.ComponentModel.Win32Exception) { return false; }
    });

    public static bool Available => HasOnnx.Value;

    static string Script => Path.Combine(AppContext.BaseDirectory, "onnx_models.py");

    /// <summary>Writes the float test models (matmul, gemm, mlp, no_matmul, weight_input) into <paramref name="dir"/>.</summary>
    public static void BuildModels(string dir)
    {
        var (code, _, err) = Run(Script, "build", dir);
        Assert.True(code == 0, $"onnx_models.py build failed: {err}");
    }

    /// <summary>onnx.load + onnx.checker.check_model; returns the graph's op types, space separated.</summary>
    public static string Check(string path, bool fullCheck)
    {
        var (code, stdout, err) = Run(Script, "check", path, fullCheck ? "1" : "0");
        Assert.True(code == 0, $"onnx.checker rejected {path}: {err}");
        return stdout.Trim();
    }

    static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }
}
