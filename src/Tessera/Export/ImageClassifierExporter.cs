using System.Globalization;
using Tessera.Formats;
using Tessera.Transformers;

namespace Tessera.Export;

/// <summary>
/// Exporter of image classifier folders (cnn, mlp, resnet, or a user's): one <c>.onnx</c> file with the config,
/// preprocessing and labels in its metadata (<see cref="OnnxExporter.ExportFolder"/>). <c>output</c> is a file, or a
/// folder (ending in a separator or existing) that gets <c>model.onnx</c> plus <c>config.json</c> and
/// <c>preprocessor_config.json</c>; the default is <c>&lt;model&gt;/model.onnx</c>.
/// </summary>
public sealed class ImageClassifierExporter : IModelFolderExporter
{
    readonly Func<PretrainedConfig, ImagePreprocessingConfig, long[]> sampleShape;

    ImageClassifierExporter(Func<PretrainedConfig, ImagePreprocessingConfig, long[]> sampleShape) => this.sampleShape = sampleShape;

    /// <summary>An exporter for configs of type <typeparamref name="TConfig"/>, whose sample input has the shape <paramref name="sampleShape"/> gives.</summary>
    /// <param name="sampleShape">The shape of one input ([1, C, H, W] or [1, features]) from the config and the folder's preprocessing.</param>
    public static ImageClassifierExporter For<TConfig>(Func<TConfig, ImagePreprocessingConfig, long[]> sampleShape) where TConfig : PretrainedConfig
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        return new ImageClassifierExporter((config, pre) => sampleShape(config as TConfig
            ?? throw new ArgumentException($"expected a {typeof(TConfig).Name}, got {config.GetType().Name}", nameof(config)), pre));
    }

    /// <summary>The shape of one sample input for <paramref name="config"/> and <paramref name="preprocessing"/>.</summary>
    public long[] SampleShape(PretrainedConfig config, ImagePreprocessingConfig preprocessing) => sampleShape(config, preprocessing);

    /// <inheritdoc/>
    public ModelExportResult Export(string modelFolder, string? output, ModelExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (file, outFolder) = OnnxOutput.Resolve(output ?? Path.Combine(modelFolder, OnnxOutput.ModelFileName));
        var report = OnnxExporter.ExportFolder(modelFolder, file, new OnnxExportOptions { Opset = options.Opset, Verify = options.Verify });
        if (outFolder is not null) OnnxOutput.CopyFolderFiles(modelFolder, outFolder);
        long size = new FileInfo(report.Path).Length + (report.ExternalDataPath is { } data ? new FileInfo(data).Length : 0);
        return new ModelExportResult(report.Path, report.ExternalDataPath,
        [
            $"wrote {report.Path}{(report.ExternalDataPath is { } d ? $" (+ {d})" : "")}",
            $"opset {report.Opset}, {report.NodeCount} nodes, {OnnxOutput.Size(size)}",
            report.Verified
                ? string.Create(CultureInfo.InvariantCulture,
                    $"max abs error vs TorchSharp: {report.MaxAbsoluteError:0.0e+00} (relative {report.MaxRelativeError:0.0e+00}; batch {string.Join(", ", report.VerifiedBatchSizes)})")
                : "not verified (--no-verify)",
        ]);
    }
}
