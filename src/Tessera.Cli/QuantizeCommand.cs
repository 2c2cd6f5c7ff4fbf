using System.CommandLine;
using Tessera.Data;
using Tessera.Runtime;
using Tessera.Runtime.Quantization;

namespace Tessera.Cli;

static class QuantizeCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("model") { Description = "Float .onnx file, or a folder with model.onnx" };
        var output = new Option<string?>("--out")
        {
            Description = "Output .onnx file, or a folder (ending in / or existing) that gets model.onnx plus the input folder's JSON files [default: <model>.int8.onnx]",
        };
        var form = new Option<string>("--form")
        {
            Description = "Operators of the quantized MatMul/Gemm: dynamicquantizematmul (fused, fastest in ONNX Runtime for batches), matmulnbits (blockwise int8, ONNX Runtime's LLM decoding kernel), matmulinteger (standard ops) or qdq",
            DefaultValueFactory = _ => DynamicQuantizer.DefaultForm.ToString().ToLowerInvariant(),
        };
        form.AcceptOnlyFromAmong("dynamicquantizematmul", "matmulnbits", "matmulinteger", "qdq");
        var tiedHead = new Option<bool>("--quantize-tied-head")
        {
            Description = "Also quantize a head tied to the input embedding (an int8 copy beside the float table): faster decoding, larger file [default: the tied head stays float]",
        };
        var blockSize = new Option<int>("--block-size") { Description = "Weights per scale along K for --form matmulnbits (power of two >= 16)", DefaultValueFactory = _ => 128 };
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the Fashion-MNIST accuracy comparison of the float and int8 models" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder with the Fashion-MNIST IDX files [default: /usr/share/datasets/fashion-mnist]" };
        var isStatic = new Option<bool>("--static") { Description = "Static int8 (QDQ) for conv nets: Conv/Gemm/MatMul weights int8 per channel, activations uint8 with ranges from --calibration; ONNX Runtime fuses it into QLinearConv/QGemm" };
        var calibration = new Option<string>("--calibration") { Description = "--static: calibration data (images from the training set)", DefaultValueFactory = _ => "fashion-mnist" };
        calibration.AcceptOnlyFromAmong("fashion-mnist");
        var calibrationSize = new Option<int>("--calibration-size") { Description = "--static: calibration images", DefaultValueFactory = _ => 512 }.AtLeast(1);
        var method = new Option<string>("--method") { Description = "--static: activation ranges from minmax, entropy (least KL divergence) or percentile (99.999% of |x|)", DefaultValueFactory = _ => "minmax" };
        method.AcceptOnlyFromAmong("minmax", "entropy", "percentile");
        var exclude = new Option<string?>("--exclude") { Description = "--static: comma-separated node names or op types to keep in float (sensitive layers)" };
        var command = new Command("quantize", "Int8 quantization: dynamic (MatMul/Gemm weights, default) or --static QDQ with calibration for conv nets; prints sizes and, for Fashion-MNIST image models, the accuracy change")
        {
            input, output, form, blockSize, tiedHead, noEval, dataDir, isStatic, calibration, calibrationSize, method, exclude,
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(input)!;
            string source = OnnxPaths.ModelFile(path);
            string defaultOut = Path.ChangeExtension(source, null) + ".int8.onnx";
            var (file, outFolder) = OnnxPaths.Output(parse.GetValue(output) ?? defaultOut);
            // A folder in the transformers.js layout (onnx/model.onnx, JSON at the root) gives a folder in the same layout.
            if (outFolder is not null && OnnxPaths.IsNestedLayout(path))
            {
                file = Path.Combine(outFolder, OnnxModel.GraphSubfolder, OnnxModel.ModelFileName);
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            }
            if (parse.GetValue(isStatic))
            {
                var staticOptions = new StaticQuantizationOptions
                {
                    Method = Enum.Parse<CalibrationMethod>(parse.GetValue(method)!, ignoreCase: true),
                    Exclude = (parse.GetValue(exclude) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                };
                var staticReport = StaticQuantizer.Quantize(source, file, Calibration.FashionMnist(source, parse.GetValue(calibrationSize), parse.GetValue(dataDir)), staticOptions);
                if (outFolder is not null && Directory.Exists(path)) OnnxPaths.CopyCompanionFiles(path, outFolder);
                var o = parse.InvocationConfiguration.Output;
                o.WriteLine($"wrote {Path.GetFullPath(file)}");
                o.WriteLine($"static int8 (QDQ): {staticReport.QuantizedNodes.Count} Conv/Gemm/MatMul node(s), {staticReport.QuantizedActivations} activation(s), " +
                    $"{staticReport.Method.ToString().ToLowerInvariant()} ranges from {staticReport.CalibrationSamples} calibration images" +
                    (staticReport.SkippedNodes.Count > 0 ? $"; kept in float: {string.Join("; ", staticReport.SkippedNodes)}" : ""));
                o.WriteLine("per-layer error vs fp32 (calibration images; relative L2, SQNR):");
                foreach (var e in staticReport.LayerErrors)
                    o.WriteLine($"  {e.Node,-32} {e.OpType,-6} {e.RelativeError,8:0.0000}  {e.SqnrDb,6:0.0} dB");
                o.WriteLine($"size: {OnnxPaths.Size(staticReport.InputFileBytes)} -> {OnnxPaths.Size(staticReport.OutputFileBytes)} ({staticReport.FileSizeRatio:0.000}x)");
                if (!parse.GetValue(noEval)) PrintAccuracyChange(path, outFolder ?? file, parse.GetValue(dataDir), o);
                return 0;
            }
            var options = new DynamicQuantizationOptions { Form = Enum.Parse<QuantizedMatMulForm>(parse.GetValue(form)!, ignoreCase: true), BlockSize = parse.GetValue(blockSize), QuantizeSharedWeights = parse.GetValue(tiedHead) };
            var report = DynamicQuantizer.Quantize(source, file, options);
            if (outFolder is not null && Directory.Exists(path)) OnnxPaths.CopyCompanionFiles(path, outFolder);

            var console = parse.InvocationConfiguration.Output;
            console.WriteLine($"wrote {Path.GetFullPath(file)}");
            console.WriteLine($"quantized {report.NodesQuantized} MatMul/Gemm node(s) to {report.Form}" +
                (report.SkippedNodes.Count > 0 ? $"; left {report.SkippedNodes.Count} in float" : ""));
            console.WriteLine($"size: {OnnxPaths.Size(report.InputFileBytes)} -> {OnnxPaths.Size(report.OutputFileBytes)} ({report.FileSizeRatio:0.000}x)");
            if (!parse.GetValue(noEval)) PrintAccuracyChange(path, outFolder ?? file, parse.GetValue(dataDir), console);
            return 0;
        });
        return command;
    }

    static void PrintAccuracyChange(string floatModel, string int8Model, string? dataDir, TextWriter console)
    {
        using var fp32 = OnnxModel.Load(floatModel);
        if (!OnnxEvaluation.CanEvaluateOnFashionMnist(fp32, dataDir)) return; // not a Fashion-MNIST image model, or no data
        using var int8 = OnnxModel.Load(int8Model);
        using var test = FashionMnist.Load(train: false, dataDir);
        double before = OnnxEvaluation.Evaluate(fp32, test).Accuracy;
        double after = OnnxEvaluation.Evaluate(int8, test).Accuracy;
        console.WriteLine($"fashion-mnist test accuracy: {before:0.0000} (fp32) -> {after:0.0000} (int8), {(after - before) * 100:+0.00;-0.00;0.00} points");
    }
}
