using System.Diagnostics;

namespace Tessera.Runtime.Tests.Conversion;

/// <summary>
/// Tiny conv nets (cnn, resnet, no_conv) built once per test class by conv_models.py with Debian's python3-onnx,
/// independently of the C# code, in a temporary folder; and the onnx-side checks of converted models.
/// Tests call <c>Requires.Python("onnx", "numpy")</c> first.
/// </summary>
public sealed class ConvModels : IDisposable
{
    const string Python = "/usr/bin/python3";

    /// <summary>Builds the models when python3-onnx is available.</summary>
    public ConvModels()
    {
        Dir = Directory.CreateTempSubdirectory("tessera-conv-").FullName;
        if (ReferencePython.Available && ReferencePython.Has("onnx"))
        {
            var (code, _, err) = Run("build", Dir);
            if (code != 0) throw new InvalidOperationException($"conv_models.py build failed: {err}");
        }
    }

    /// <summary>The folder with the models and test outputs.</summary>
    public string Dir { get; }

    /// <summary>Path of a file in <see cref="Dir"/>.</summary>
    public string this[string file] => Path.Combine(Dir, file);

    /// <summary>"domain;opset;op" for every op type of the model at <paramref name="path"/>, as python-onnx reads it.</summary>
    public static SortedSet<string> Operators(string path)
    {
        var (code, stdout, err) = Run("ops", path);
        Assert.True(code == 0, $"conv_models.py ops failed on {path}: {err}");
        return new(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.Ordinal);
    }

    /// <summary>onnx.checker.check_model(full_check=True); returns the sorted op types.</summary>
    public static string Check(string path)
    {
        var (code, stdout, err) = Run("check", path);
        Assert.True(code == 0, $"onnx.checker rejected {path}: {err}");
        return stdout.Trim();
    }

    static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "conv_models.py"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
