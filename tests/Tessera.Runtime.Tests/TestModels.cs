using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Tessera.Runtime.Tests;

/// <summary>
/// Small ONNX models built once per test run by Fixtures/make_models.py with Debian's /usr/bin/python3 and
/// onnx.helper (independent of Tessera), with expected outputs computed by numpy. Tests call
/// <c>Requires.Python("onnx")</c> first, so they skip when /usr/bin/python3 cannot import onnx; CI installs python3-onnx.
/// </summary>
internal static class TestModels
{
    const string Interpreter = "/usr/bin/python3";
    static readonly Lazy<string?> dir = new(Build);
    static readonly Lazy<JsonObject> expected = new(() => JsonNode.Parse(File.ReadAllText(Path.Combine(Dir, "expected.json")))!.AsObject());

    /// <summary>Whether the models could be built (python3-onnx present).</summary>
    public static bool Available => dir.Value is not null;

    /// <summary>The folder holding the models.</summary>
    public static string Dir => dir.Value ?? throw new InvalidOperationException("python3-onnx is missing");

    /// <summary>Path of a model file, for example <c>gemm_softmax.onnx</c>.</summary>
    public static string PathOf(string name) => Path.Combine(Dir, name);

    /// <summary>A float array from expected.json, for example <c>Floats("gemm_softmax", "probs")</c>.</summary>
    public static float[] Floats(string model, string key) => expected.Value[model]![key]!.AsArray().Select(n => n!.GetValue<float>()).ToArray();

    /// <summary>An int64 array from expected.json.</summary>
    public static long[] Longs(string model, string key) => expected.Value[model]![key]!.AsArray().Select(n => n!.GetValue<long>()).ToArray();

    /// <summary>A fresh temp folder for one test.</summary>
    public static string TempDir()
    {
        string d = Path.Combine(Path.GetTempPath(), "tessera-runtime-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    /// <summary>Runs a python script with /usr/bin/python3; null when it fails (stderr in <paramref name="error"/>).</summary>
    public static string? RunPython(string scriptPath, out string error, params string[] args)
    {
        error = "";
        if (!File.Exists(Interpreter)) { error = "no " + Interpreter; return null; }
        var psi = new ProcessStartInfo(Interpreter) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(scriptPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? stdout.Result : null;
    }

    /// <summary>Whether /usr/bin/python3 can import <paramref name="module"/>.</summary>
    public static bool CanImport(string module)
    {
        string script = Path.Combine(Path.GetTempPath(), $"tessera-import-{Guid.NewGuid():N}.py");
        File.WriteAllText(script, $"import {module}\n");
        try { return RunPython(script, out _) is not null; }
        finally { File.Delete(script); }
    }

    static string? Build()
    {
        if (!CanImport("onnx")) return null;
        string output = TempDir();
        string script = Path.Combine(AppContext.BaseDirectory, "Fixtures", "make_models.py");
        if (RunPython(script, out string error, output) is null)
            throw new InvalidOperationException($"make_models.py failed:\n{error}");
        return output;
    }
}
