using System.Diagnostics;

namespace Tessera.Tests.Export;

/// <summary>
/// Runs <c>onnx.checker.check_model(model, full_check=True)</c> from Debian's python3-onnx (/usr/bin/python3), an
/// implementation independent of ours. Both calls skip the test when <c>import onnx</c> fails (CI installs python3-onnx).
/// </summary>
internal static class OnnxChecker
{
    const string Python = "/usr/bin/python3";
    const string Script = """
        import sys, onnx
        m = onnx.load(sys.argv[1])
        onnx.checker.check_model(m, full_check=True)
        print("ok", m.ir_version, m.opset_import[0].version, len(m.graph.node))
        """;

    /// <summary>Runs the checker: whether it accepted the model and what it printed.</summary>
    public static (bool Ok, string Output) TryCheck(string path)
    {
        Requires.Python("onnx");
        var (code, output) = RunPython(Script, path);
        return (code == 0, output);
    }

    /// <summary>Asserts that the checker accepts the model at <paramref name="path"/> (external data is found beside it).</summary>
    public static void Check(string path)
    {
        Requires.Python("onnx");
        var (code, output) = RunPython(Script, path);
        Assert.True(code == 0, $"onnx.checker rejected {path}:\n{output}");
        Assert.StartsWith("ok 8 17", output.Trim());
    }

    static (int Code, string Output) RunPython(string script, params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
