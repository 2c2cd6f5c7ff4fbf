namespace Tessera.Diffusion.Pipelines;

/// <summary>
/// The part of a diffusion pipeline that differs between back ends: one UNet evaluation on a batch. The TorchSharp
/// pipeline and the ONNX Runtime pipeline implement it; <see cref="DiffusionSampler"/> does everything else.
/// </summary>
public interface IDenoiser
{
    /// <summary>Channels of the samples the UNet takes.</summary>
    int InChannels { get; }

    /// <summary>Height of the samples, and their width unless <see cref="SampleWidth"/> differs (<c>sample_size</c>), or null when the model does not say.</summary>
    int? SampleSize { get; }

    /// <summary>Width of the samples (the second entry of <c>sample_size</c> given as <c>[height, width]</c>); <see cref="SampleSize"/> by default.</summary>
    int? SampleWidth => SampleSize;

    /// <summary>Number of class labels a class-conditional UNet takes (<c>num_class_embeds</c>); null for an unconditional one.</summary>
    int? NumClassEmbeds { get; }

    /// <summary>
    /// The model output for <paramref name="sample"/> ([batch, C, H, W] flattened) at one timestep per sample, with one
    /// class label per sample for a class-conditional model (null otherwise).
    /// </summary>
    float[] Denoise(ReadOnlySpan<float> sample, int[] shape, ReadOnlySpan<float> timesteps, ReadOnlySpan<long> classLabels);
}
