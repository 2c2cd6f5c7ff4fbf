using Tessera.Diffusion.Pipelines;
using Tessera.Diffusion.Schedulers;
using Tessera.Formats;
using Tessera.Hub;
using Tessera.Models;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Diffusion;

/// <summary>
/// diffusers' <c>DDPMPipeline</c>/<c>DDIMPipeline</c> in TorchSharp: a <see cref="UNet2DModel"/> plus any
/// <see cref="IDiffusionScheduler"/> (swap it with <see cref="Scheduler"/>), with optional class labels and
/// classifier-free guidance. The sampling loop is <see cref="DiffusionSampler"/>, shared with the ONNX Runtime
/// pipeline; this class only runs the UNet. Folders in diffusers' layout (<c>model_index.json</c>, <c>unet/</c>,
/// <c>scheduler/</c>) or the flat layout load with <see cref="FromPretrained"/>.
/// </summary>
public sealed class DiffusionPipeline : IDisposable
{
    /// <summary>The pipeline class written into <c>model_index.json</c> when none was read.</summary>
    public const string DefaultClassName = "DDPMPipeline";

    readonly Denoiser denoiser;

    /// <summary>Wires <paramref name="unet"/> and <paramref name="scheduler"/>; the pipeline owns neither (dispose the UNet yourself, or dispose the pipeline to dispose it).</summary>
    public DiffusionPipeline(UNet2DModel unet, IDiffusionScheduler scheduler, string? className = null)
    {
        UNet = unet ?? throw new ArgumentNullException(nameof(unet));
        Scheduler = scheduler ?? throw new ArgumentNullException(nameof(scheduler));
        ClassName = className ?? DefaultClassName;
        denoiser = new Denoiser(unet);
    }

    /// <summary>The denoising UNet.</summary>
    public UNet2DModel UNet { get; }

    /// <summary>The scheduler; assign another (e.g. <c>Schedulers.Create("ddim", pipeline.Scheduler.Config)</c>) to swap it.</summary>
    public IDiffusionScheduler Scheduler { get; set; }

    /// <summary>The pipeline class of <c>model_index.json</c>.</summary>
    public string ClassName { get; }

    /// <summary>
    /// Loads a pipeline (diffusers or flat layout) with a TorchSharp UNet from a local folder or, when no such folder
    /// exists, from a hub repository id (<c>org/name</c> or <c>org/name@revision</c>), downloaded into the hub cache with
    /// <paramref name="hub"/> (<see cref="HubOptions.FromEnvironment()"/> when null: <c>HF_HOME</c>, <c>HF_TOKEN</c>,
    /// <c>HF_HUB_OFFLINE</c>).
    /// </summary>
    /// <exception cref="TesseraFormatException">The folder is not a pipeline, a config is invalid, or the weights do not match; the message names the file.</exception>
    /// <exception cref="FileNotFoundException">The UNet weights are missing.</exception>
    /// <exception cref="HubException">No local folder of that name exists and the repository could not be downloaded (nor found in the cache when offline).</exception>
    public static DiffusionPipeline FromPretrained(string folderOrRepoId, FromPretrainedOptions? options = null, HubOptions? hub = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folderOrRepoId);
        string folder = ResolveFolder(folderOrRepoId, hub);
        PipelineFolder layout = PipelineFolder.Open(folder);
        if (layout.IsOnnx)
            throw new TesseraFormatException(layout.UNetFolder, "this is an ONNX pipeline folder (unet/model.onnx); load it with Tessera.Runtime's OrtDiffusionPipeline");
        IDiffusionScheduler scheduler = Schedulers.Schedulers.FromFolder(layout.SchedulerFolder);
        UNet2DModel unet = UNet2DModel.FromPretrained(layout.UNetFolder, options);
        return new DiffusionPipeline(unet, scheduler, layout.ClassName);
    }

    /// <summary>
    /// <paramref name="folderOrRepoId"/> itself when it is a folder or reads as a path; otherwise the snapshot folder of
    /// the hub repository it names (downloaded if needed).
    /// </summary>
    static string ResolveFolder(string folderOrRepoId, HubOptions? hub)
    {
        if (Directory.Exists(folderOrRepoId) || !RepoReference.TryParse(folderOrRepoId, out _)) return folderOrRepoId;
        using var client = new HubClient(hub ?? HubOptions.FromEnvironment());
        try
        {
            return client.GetModelFolderAsync(folderOrRepoId).GetAwaiter().GetResult();
        }
        catch (DirectoryNotFoundException)
        {
            return folderOrRepoId; // a path after all (e.g. runs/typo): PipelineFolder.Open names it
        }
        catch (HubException ex)
        {
            throw new HubException($"{folderOrRepoId} is not a local folder, so it was looked up on the Hub as a repository id: {ex.Message}",
                ex.RepoId, ex.Revision, ex.Filename, ex.StatusCode, ex);
        }
    }

    /// <summary>Writes the pipeline in diffusers' layout: <c>model_index.json</c>, <c>unet/</c> (config.json + diffusion_pytorch_model.safetensors), <c>scheduler/scheduler_config.json</c>.</summary>
    public void SavePretrained(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        UNet.SavePretrained(Path.Combine(folder, "unet"));
        Schedulers.Schedulers.Save(Scheduler, Path.Combine(folder, "scheduler"));
        PipelineFolder.WriteIndex(folder, ClassName, Scheduler.Config.ClassName);
    }

    /// <summary>Generates images; see <see cref="SamplingOptions"/>. Runs under no_grad in eval mode.</summary>
    /// <exception cref="ArgumentException">An option does not fit the model (see <see cref="DiffusionSampler.Sample"/>).</exception>
    public DiffusionOutput Generate(SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        bool training = UNet.training;
        UNet.eval();
        try
        {
            return DiffusionSampler.Sample(denoiser, Scheduler, options);
        }
        finally
        {
            if (training) UNet.train();
        }
    }

    /// <summary>The samples of <paramref name="output"/> as a tensor [count, C, H, W] on the CPU.</summary>
    public static Tensor ToTensor(DiffusionOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        return tensor(output.Samples, [output.Count, output.Channels, output.Height, output.Width]);
    }

    /// <summary>Disposes the UNet.</summary>
    public void Dispose() => UNet.Dispose();

    sealed class Denoiser(UNet2DModel unet) : IDenoiser
    {
        public int InChannels => unet.Config.InChannels;
        public int? SampleSize => unet.Config.SampleSize;
        public int? SampleWidth => unet.Config.SampleSizeWidth;
        public int? NumClassEmbeds => unet.Config.ClassEmbedType is null ? unet.Config.NumClassEmbeds : null;

        public float[] Denoise(ReadOnlySpan<float> sample, int[] shape, ReadOnlySpan<float> timesteps, ReadOnlySpan<long> classLabels)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Device device = unet.parameters().First().device;
            Tensor x = tensor(sample.ToArray(), shape.Select(d => (long)d).ToArray()).to(device);
            Tensor t = tensor(timesteps.ToArray()).to(device);
            Tensor? labels = unet.Config.IsClassConditional ? tensor(classLabels.ToArray()).to(device) : null;
            using Tensor output = unet.call(x, t, labels).to_type(ScalarType.Float32).cpu().contiguous();
            return output.data<float>().ToArray();
        }
    }
}
