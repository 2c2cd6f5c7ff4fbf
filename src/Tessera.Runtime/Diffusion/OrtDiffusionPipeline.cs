using Tessera.Diffusion;
using Tessera.Diffusion.Pipelines;
using Tessera.Diffusion.Schedulers;
using Tessera.Formats;

namespace Tessera.Runtime.Diffusion;

/// <summary>
/// A diffusion pipeline whose UNet runs in ONNX Runtime: an ONNX pipeline folder as <c>tessera export</c> writes it
/// (<c>model_index.json</c>, <c>unet/model.onnx</c> + <c>unet/config.json</c>, <c>scheduler/scheduler_config.json</c>),
/// with the same C# schedulers and the same sampling loop (<see cref="DiffusionSampler"/>) as the TorchSharp pipeline,
/// so the same seed gives the same images up to float rounding. No TorchSharp.
/// </summary>
public sealed class OrtDiffusionPipeline : IDisposable
{
    const string SampleInput = "sample", TimestepInput = "timestep", ClassLabelsInput = "class_labels", Output = "out_sample";

    readonly Denoiser denoiser;

    OrtDiffusionPipeline(OnnxModel unet, UNet2DConfig config, IDiffusionScheduler scheduler, string? className)
    {
        UNet = unet;
        Config = config;
        Scheduler = scheduler;
        ClassName = className;
        denoiser = new Denoiser(unet, config);
    }

    /// <summary>The UNet session.</summary>
    public OnnxModel UNet { get; }

    /// <summary>The UNet's diffusers config.</summary>
    public UNet2DConfig Config { get; }

    /// <summary>The scheduler; assign another to swap it.</summary>
    public IDiffusionScheduler Scheduler { get; set; }

    /// <summary>The pipeline class of <c>model_index.json</c>, or null.</summary>
    public string? ClassName { get; }

    /// <summary>Loads an ONNX pipeline folder.</summary>
    /// <exception cref="TesseraFormatException">The folder is not a pipeline, has no <c>unet/model.onnx</c>, or a config is invalid; the message names the file.</exception>
    /// <exception cref="OnnxModelException">ONNX Runtime rejects the model, or its inputs are not those of an exported UNet.</exception>
    public static OrtDiffusionPipeline FromPretrained(string folder, OnnxSessionOptions? options = null)
    {
        PipelineFolder layout = PipelineFolder.Open(folder);
        string onnx = Path.Combine(layout.UNetFolder, PipelineFolder.OnnxFile);
        if (!File.Exists(onnx))
            throw new TesseraFormatException(layout.UNetFolder, $"not an ONNX pipeline: {PipelineFolder.OnnxFile} is missing (export the pipeline with `tessera export`)");
        UNet2DConfig config = UNet2DConfig.Load(Path.Combine(layout.UNetFolder, "config.json"));
        IDiffusionScheduler scheduler = Schedulers.FromFolder(layout.SchedulerFolder);
        OnnxModel model = OnnxModel.Load(onnx, options);
        try
        {
            var inputs = model.Inputs.Select(i => i.Name).ToHashSet();
            bool ok = inputs.Contains(SampleInput) && inputs.Contains(TimestepInput) && model.Outputs.Any(o => o.Name == Output)
                && inputs.Contains(ClassLabelsInput) == config.IsClassConditional;
            if (!ok)
                throw new TesseraFormatException(onnx, $"not an exported UNet2D for this config: expected inputs {SampleInput}, {TimestepInput}" +
                    (config.IsClassConditional ? $", {ClassLabelsInput}" : "") + $" and output {Output}; the model has {string.Join(", ", inputs)}");
            return new OrtDiffusionPipeline(model, config, scheduler, layout.ClassName);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Generates images; see <see cref="SamplingOptions"/>.</summary>
    /// <exception cref="ArgumentException">An option does not fit the model (see <see cref="DiffusionSampler.Sample"/>).</exception>
    public DiffusionOutput Generate(SamplingOptions options) => DiffusionSampler.Sample(denoiser, Scheduler, options);

    /// <summary>Disposes the session.</summary>
    public void Dispose() => UNet.Dispose();

    sealed class Denoiser(OnnxModel model, UNet2DConfig config) : IDenoiser
    {
        public int InChannels => config.InChannels;
        public int? SampleSize => config.SampleSize;
        public int? SampleWidth => config.SampleSizeWidth;
        public int? NumClassEmbeds => config.ClassEmbedType is null ? config.NumClassEmbeds : null;

        public float[] Denoise(ReadOnlySpan<float> sample, int[] shape, ReadOnlySpan<float> timesteps, ReadOnlySpan<long> classLabels)
        {
            var inputs = new Dictionary<string, NamedTensor>
            {
                [SampleInput] = new(sample.ToArray(), shape.Select(d => (long)d).ToArray()),
                [TimestepInput] = new(timesteps.ToArray(), shape[0]),
            };
            if (config.IsClassConditional) inputs[ClassLabelsInput] = new(classLabels.ToArray(), shape[0]);
            return model.Run(inputs)[Output].AsFloats();
        }
    }
}
