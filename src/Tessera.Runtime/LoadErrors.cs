using System.Text.RegularExpressions;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Tessera.Formats.Onnx;

namespace Tessera.Runtime;

/// <summary>
/// Turns ONNX Runtime's load failures into an <see cref="OnnxModelException"/> that says in plain words what is wrong:
/// not ONNX / truncated, an operator this runtime lacks, or an opset newer than it supports. Reads the file with
/// Tessera's own ONNX protobuf reader only after ONNX Runtime has failed, to name the operator or opset.
/// </summary>
internal static class LoadErrors
{
    const long MaxInspectBytes = 256L << 20;

    public static OnnxModelException Explain(string path, OnnxRuntimeException error)
    {
        string ort = error.Message.Trim();
        ModelProto? model = TryParse(path, out string? parseError);
        if (model is null)
            return new OnnxModelException(path, $"not a valid ONNX model (truncated or not ONNX: {parseError}). ONNX Runtime said: {ort}", error);

        var opsets = model.OpsetImport.ToDictionary(o => o.Domain is "" or "ai.onnx" ? "ai.onnx" : o.Domain, o => o.Version);
        // An op of the graph that ORT's message names as a whole word ("No Op registered for NoSuchOp with ...").
        var opTypes = model.Graph?.Node.Select(n => (n.Domain, n.OpType)).Distinct().ToList() ?? [];
        var named = opTypes.FirstOrDefault(op => Regex.IsMatch(ort, $@"(?<![\w.]){Regex.Escape(op.OpType)}(?!\w)"));
        if (ort.Contains("opset", StringComparison.OrdinalIgnoreCase) || ort.Contains("Opset", StringComparison.Ordinal))
        {
            string list = string.Join(", ", opsets.Select(kv => $"{kv.Key} {kv.Value}"));
            if (named.OpType is not null)
                return new OnnxModelException(path, $"operator {Qualified(named)} at the model's opset ({list}) is not supported by this ONNX Runtime ({OrtVersion()}). ONNX Runtime said: {ort}", error);
            return new OnnxModelException(path, $"the model's opset ({list}) is not supported by this ONNX Runtime ({OrtVersion()}). ONNX Runtime said: {ort}", error);
        }
        if (named.OpType is not null)
            return new OnnxModelException(path, $"operator {Qualified(named)} is not implemented by this ONNX Runtime ({OrtVersion()}). ONNX Runtime said: {ort}", error);
        return new OnnxModelException(path, $"ONNX Runtime cannot load the model: {ort}", error);
    }

    static string Qualified((string Domain, string OpType) op) => op.Domain is "" or "ai.onnx" ? $"'{op.OpType}'" : $"'{op.Domain}.{op.OpType}'";

    static string OrtVersion() => "version " + OrtEnv.Instance().GetVersionString();

    static ModelProto? TryParse(string path, out string? problem)
    {
        problem = null;
        try
        {
            var info = new FileInfo(path);
            if (info.Length == 0) { problem = "the file is empty"; return null; }
            if (info.Length > MaxInspectBytes) { problem = "too large to inspect"; return null; }
            var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            if (model.Graph is null || model.OpsetImport.Count == 0) { problem = "no graph or opset_import"; return null; }
            return model;
        }
        catch (InvalidProtocolBufferException e)
        {
            problem = "protobuf parse failed: " + e.Message;
            return null;
        }
        catch (IOException e)
        {
            problem = e.Message;
            return null;
        }
    }
}
