using System.CommandLine;
using Tessera.Runtime.Conversion;

namespace Tessera.Cli;

static class ConvertCommand
{
    public static Command Create()
    {
        var inputs = new Argument<string[]>("models") { Description = "Float .onnx file(s), or folder(s) with model.onnx; several for --to ort share one required_operators.config", Arity = ArgumentArity.OneOrMore };
        var to = new Option<string>("--to") { Description = "ort: ONNX Runtime's ORT format (.ort, for minimal/mobile builds) plus required_operators.config; fp16: float16 weights and activations", Required = true };
        to.AcceptOnlyFromAmong("ort", "fp16");
        var output = new Option<string?>("--out") { Description = "Output file, or a folder (ending in / or existing; needed for several models) [default: beside the input: <model>.ort or <model>.fp16.onnx]" };
        var config = new Option<string?>("--operators-config") { Description = $"Where --to ort writes the merged operator list [default: {RequiredOperators.FileName} beside the output]" };
        var keepIo = new Option<bool>("--keep-io-types") { Description = "--to fp16: keep float32 graph inputs and outputs (Cast nodes at the edges), so callers feed float32 as before" };
        var command = new Command("convert", "Convert an ONNX model: to ORT format (optimized at ORT_ENABLE_EXTENDED, with the operator list reduced builds need) or to float16")
        {
            inputs, to, output, config, keepIo,
        };
        command.SetAction(parse =>
        {
            var console = parse.InvocationConfiguration.Output;
            string[] models = parse.GetValue(inputs)!;
            string? outArg = parse.GetValue(output);
            bool outIsFolder = outArg is not null && (outArg.EndsWith('/') || Directory.Exists(outArg));
            if (models.Length > 1 && outArg is not null && !outIsFolder)
                throw new UsageException($"--out must be a folder (ending in /) when converting {models.Length} models");
            string kind = parse.GetValue(to)!;
            if (kind == "fp16" && models.Length > 1) throw new UsageException("--to fp16 converts one model at a time");

            var targets = models.Select(m =>
            {
                string source = OnnxPaths.ModelFile(m);
                string name = Path.GetFileNameWithoutExtension(source) + (kind == "ort" ? ".ort" : ".fp16.onnx");
                string target = outArg is null ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(source))!, name)
                    : outIsFolder ? Path.Combine(outArg, name) : outArg;
                return (Source: source, Target: target);
            }).ToArray();

            if (kind == "fp16")
            {
                var (source, target) = targets[0];
                var report = Float16Converter.Convert(source, target, new Float16ConversionOptions { KeepIoTypes = parse.GetValue(keepIo) });
                console.WriteLine($"wrote {Path.GetFullPath(target)}");
                console.WriteLine($"float16: {report.ConvertedInitializers} initializer(s), {report.ClampedValues} value(s) clamped to the float16 range, " +
                    $"{report.BlockedNodes.Count} node(s) kept in float32, {report.CastNodes} Cast node(s)");
                console.WriteLine($"size: {OnnxPaths.Size(report.InputFileBytes)} -> {OnnxPaths.Size(report.OutputFileBytes)} ({(double)report.OutputFileBytes / report.InputFileBytes:0.000}x)");
                return 0;
            }

            // Convert every model before writing the shared operator list, so a failure leaves no partial config.
            var sets = new List<RequiredOperators>();
            foreach (var (source, target) in targets)
            {
                sets.Add(OrtFormatConverter.Convert(source, target));
                console.WriteLine($"wrote {Path.GetFullPath(target)} ({OnnxPaths.Size(new FileInfo(source).Length)} -> {OnnxPaths.Size(new FileInfo(target).Length)}, optimized at ORT_ENABLE_EXTENDED)");
            }
            var merged = RequiredOperators.Merge(sets);
            string configPath = parse.GetValue(config) ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(targets[0].Target))!, RequiredOperators.FileName);
            merged.Save(configPath);
            console.WriteLine($"wrote {Path.GetFullPath(configPath)} ({merged.Operators.Sum(kv => kv.Value.Count)} operator(s))");
            return 0;
        });
        return command;
    }
}
