using System.Globalization;
using Tessera.Diffusion;
using Tessera.Diffusion.Pipelines;
using Tessera.Diffusion.Schedulers;
using Tessera.Runtime;
using static TorchSharp.torch;

namespace Tessera.Export.Diffusion;

/// <summary>
/// Exporter of diffusers UNet folders and pipeline folders. A pipeline (diffusers or flat layout) becomes an ONNX
/// pipeline folder: <c>model_index.json</c> (unet <c>["diffusers", "OnnxRuntimeModel"]</c>), <c>unet/model.onnx</c> with
/// the UNet's <c>config.json</c>, and <c>scheduler/scheduler_config.json</c>; a bare UNet folder becomes
/// <c>model.onnx</c> plus <c>config.json</c>. Output goes to <c>output</c>, or <c>&lt;folder&gt;/onnx</c>. The graph is
/// checked in ONNX Runtime against TorchSharp on a batch of two before it is moved into place.
/// </summary>
public sealed class UNet2DExporter : IModelFolderExporter
{
    /// <summary>The exporter (it holds no state).</summary>
    public static UNet2DExporter Instance { get; } = new();

    /// <summary>Largest allowed |TorchSharp − ONNX Runtime| on the verification batch.</summary>
    public const double Tolerance = 1e-3;

    /// <inheritdoc/>
    public ModelExportResult Export(string modelFolder, string? output, ModelExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string outDir = TransformerExportFiles.OutputFolder(modelFolder, output);
        bool pipeline = PipelineFolder.IsPipeline(modelFolder);
        PipelineFolder? layout = pipeline ? PipelineFolder.Open(modelFolder) : null;
        string unetFolder = layout?.UNetFolder ?? modelFolder;
        using UNet2DModel unet = UNet2DModel.FromPretrained(unetFolder);
        string unetOut = pipeline ? Path.Combine(outDir, "unet") : outDir;
        var (path, maxAbs, nodes) = ExportUNet(unet, Path.Combine(unetOut, PipelineFolder.OnnxFile), options.Opset, options.Verify);
        unet.Config.SaveDiffusers(Path.Combine(unetOut, "config.json"));
        var lines = new List<string> { $"wrote {path}, opset {options.Opset}, {nodes} nodes" };
        if (layout is not null)
        {
            IDiffusionScheduler scheduler = Schedulers.FromFolder(layout.SchedulerFolder);
            Schedulers.Save(scheduler, Path.Combine(outDir, "scheduler"));
            PipelineFolder.WriteIndex(outDir, layout.ClassName ?? DiffusionPipeline.DefaultClassName, scheduler.Config.ClassName, "diffusers", "OnnxRuntimeModel");
            lines.Add($"ONNX pipeline folder {outDir}: {PipelineFolder.IndexFile}, unet/, scheduler/ ({scheduler.Config.ClassName})");
        }
        lines.Add(maxAbs is { } m ? string.Create(CultureInfo.InvariantCulture, $"max abs error vs TorchSharp: {m:0.0e+00} (batch 2)") : "not verified (--no-verify)");
        return new ModelExportResult(path, null, lines);
    }

    /// <summary>Writes <paramref name="unet"/> as <paramref name="path"/>, verified against TorchSharp first when <paramref name="verify"/>.</summary>
    /// <returns>The path, the measured max abs error (null when not verified) and the node count.</returns>
    /// <exception cref="OnnxExportException">The graph cannot be built, ONNX Runtime rejects it, or it differs beyond <see cref="Tolerance"/>.</exception>
    public static (string Path, double? MaxAbs, int Nodes) ExportUNet(UNet2DModel unet, string path, int opset = OnnxGraphBuilder.DefaultOpset, bool verify = true)
    {
        ArgumentNullException.ThrowIfNull(unet);
        if (opset < 17) throw new ArgumentOutOfRangeException(nameof(opset), opset, "opset must be at least 17");
        var metadata = new Dictionary<string, string>
        {
            [OnnxExporter.VersionKey] = TesseraInfo.Version,
            ["tessera.model_type"] = UNet2DConfig.Type,
            [OnnxExporter.ConfigKey] = unet.Config.ToDiffusersJson(),
        };
        bool training = unet.training;
        unet.eval();
        try
        {
            var proto = UNet2DGraph.Build(unet, metadata, opset);
            double? maxAbs = null;
            OnnxFileWriter.Write(proto, path, externalData: false, temp =>
            {
                if (verify) maxAbs = Verify(unet, temp);
            });
            return (Path.GetFullPath(path), maxAbs, proto.Graph.Node.Count);
        }
        finally
        {
            if (training) unet.train();
        }
    }

    static double Verify(UNet2DModel unet, string path)
    {
        var c = unet.Config;
        const int batch = 2;
        int size = 1 << (c.BlockOutChannels.Count - 1);
        size *= Math.Max(1, (c.SampleSize ?? 8) / size);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var gen = new TorchSharp.torch.Generator(1234);
        Tensor x = randn([batch, c.InChannels, size, size], generator: gen);
        Tensor t = tensor(new float[] { 3f, 517.5f });
        long[] labelValues = [0, Math.Max(0, (c.NumClassEmbeds ?? 1) - 1)];
        Tensor? labels = c.IsClassConditional ? tensor(labelValues) : null;
        Device device = unet.parameters().First().device;
        using Tensor expected = unet.call(x.to(device), t.to(device), labels?.to(device)).cpu().contiguous();
        using OnnxModel session = OnnxRuntimeCall.Load(path, "exported UNet");
        var inputs = new Dictionary<string, NamedTensor>
        {
            [UNet2DGraph.SampleInput] = new(x.data<float>().ToArray(), x.shape),
            [UNet2DGraph.TimestepInput] = new(t.data<float>().ToArray(), batch),
        };
        if (labels is not null) inputs[UNet2DGraph.ClassLabelsInput] = new(labelValues, batch);
        NamedTensor actual = OnnxRuntimeCall.Run(session, inputs, "exported UNet")[UNet2DGraph.Output];
        if (!actual.Shape.SequenceEqual(expected.shape))
            throw new OnnxExportException($"ONNX Runtime gives [{string.Join(", ", actual.Shape)}], TorchSharp [{string.Join(", ", expected.shape)}]");
        float[] want = expected.data<float>().ToArray(), got = actual.AsFloats();
        double worst = 0;
        for (int i = 0; i < want.Length; i++)
        {
            double diff = Math.Abs(got[i] - want[i]);
            worst = Math.Max(worst, double.IsNaN(diff) ? double.PositiveInfinity : diff);
        }
        if (worst > Tolerance) throw new OnnxExportException($"ONNX Runtime differs from TorchSharp by {worst:G4} (allowed {Tolerance:G3})");
        return worst;
    }
}
