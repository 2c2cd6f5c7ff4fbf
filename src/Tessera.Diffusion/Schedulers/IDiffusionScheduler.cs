namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// A diffusion noise scheduler in the shape of diffusers' <c>SchedulerMixin</c>: it sets the inference timesteps and
/// turns a model output into the previous (less noisy) sample. Pure step math on flat spans laid out as
/// <c>[batch, channels, height, width]</c>; no model inside. Multistep schedulers keep state between
/// <see cref="Step"/> calls, so call <see cref="SetTimesteps"/> before each new sampling run.
/// </summary>
public interface IDiffusionScheduler
{
    /// <summary>The scheduler's configuration (diffusers' <c>scheduler_config.json</c>, unknown keys kept).</summary>
    SchedulerConfig Config { get; }

    /// <summary>Chooses <paramref name="numInferenceSteps"/> timesteps (per <c>timestep_spacing</c>) and resets step state.</summary>
    void SetTimesteps(int numInferenceSteps);

    /// <summary>The timesteps of the current run, from noisiest to cleanest (fractional for sigma-based schedulers).</summary>
    IReadOnlyList<double> Timesteps { get; }

    /// <summary>The standard deviation of the initial noise (1 for DDPM/DDIM; the largest sigma for Euler-type schedulers).</summary>
    double InitNoiseSigma { get; }

    /// <summary>Scales the model input in place for <paramref name="timestep"/> (identity except for sigma-based schedulers).</summary>
    void ScaleModelInput(Span<float> sample, double timestep);

    /// <summary>
    /// One reverse step: from <paramref name="modelOutput"/> at <paramref name="timestep"/> and the current
    /// <paramref name="sample"/> to the previous sample. <paramref name="noise"/> supplies the fresh noise that
    /// stochastic schedulers add, one source per sample of the batch (so a sample does not depend on its batch);
    /// null draws none and is an error for a scheduler that needs noise.
    /// </summary>
    SchedulerStepOutput Step(ReadOnlySpan<float> modelOutput, double timestep, ReadOnlySpan<float> sample, IReadOnlyList<INoiseSource>? noise = null);

    /// <summary>
    /// Forward diffusion: writes <c>sqrt(alpha_bar_t) * original + sqrt(1 - alpha_bar_t) * noise</c> (or the sigma
    /// form) into <paramref name="destination"/>, with one training timestep per sample (batch = timesteps.Length).
    /// </summary>
    void AddNoise(ReadOnlySpan<float> original, ReadOnlySpan<float> noise, ReadOnlySpan<int> timesteps, Span<float> destination);

    /// <summary>The v-prediction target <c>sqrt(alpha_bar_t) * noise - sqrt(1 - alpha_bar_t) * sample</c>, one timestep per sample.</summary>
    void GetVelocity(ReadOnlySpan<float> sample, ReadOnlySpan<float> noise, ReadOnlySpan<int> timesteps, Span<float> destination);
}

/// <summary>The result of <see cref="IDiffusionScheduler.Step"/>.</summary>
/// <param name="PrevSample">The sample at the previous timestep (same layout as the input sample).</param>
/// <param name="PredOriginalSample">The model's estimate of the clean sample x0, when the scheduler computes one.</param>
public sealed record SchedulerStepOutput(float[] PrevSample, float[]? PredOriginalSample);

/// <summary>A source of standard-normal noise. One seeded source per sample makes results independent of batching.</summary>
public interface INoiseSource
{
    /// <summary>Fills <paramref name="destination"/> with independent N(0, 1) values.</summary>
    void NextGaussian(Span<float> destination);
}
