using Tessera.Diffusion.Schedulers;
using SchedulerFactory = Tessera.Diffusion.Schedulers.Schedulers;

namespace Tessera.Diffusion.Tests.Schedulers;

public class SchedulerBehaviourTests
{
    [Theory]
    [InlineData("ddpm")]
    [InlineData("ddim")]
    [InlineData("dpm++")]
    public void AddNoise_and_GetVelocity_use_alpha_bar_of_each_samples_timestep(string name)
    {
        var scheduler = (NoiseScheduler)SchedulerFactory.Create(name);
        float[] x = [1f, -2f, 0.5f, 3f], eps = [0.25f, 0.5f, -1f, 2f];
        int[] t = [10, 900];
        var noisy = new float[4];
        var velocity = new float[4];

        scheduler.AddNoise(x, eps, t, noisy);
        scheduler.GetVelocity(x, eps, t, velocity);

        for (int i = 0; i < 4; i++)
        {
            double a = scheduler.AlphasCumprod[t[i / 2]];
            Assert.Equal(Math.Sqrt(a) * x[i] + Math.Sqrt(1 - a) * eps[i], noisy[i], 1e-6);
            Assert.Equal(Math.Sqrt(a) * eps[i] - Math.Sqrt(1 - a) * x[i], velocity[i], 1e-6);
        }
    }

    [Theory]
    [InlineData("euler")]
    [InlineData("euler-a")]
    public void Euler_AddNoise_uses_the_sigma_form(string name)
    {
        var scheduler = (NoiseScheduler)SchedulerFactory.Create(name);
        float[] x = [1f, -2f], eps = [0.5f, 2f];
        var noisy = new float[2];

        scheduler.AddNoise(x, eps, [0, 999], noisy);

        for (int i = 0; i < 2; i++)
        {
            double a = scheduler.AlphasCumprod[i == 0 ? 0 : 999];
            Assert.Equal(x[i] + Math.Sqrt((1 - a) / a) * eps[i], noisy[i], 1e-4);
        }
    }

    [Fact]
    public void The_ddim_previous_timestep_quirk_matches_diffusers_with_linspace_spacing()
    {
        // linspace over 1000 steps with 3 steps gives 999, 500, 0, but DDIM steps from 999 to 999 - 1000 // 3 = 666,
        // as diffusers does: a deterministic DDIM step with epsilon = 0 lands on sqrt(alpha_bar[666] / alpha_bar[999]) x.
        var config = SchedulerConfig.ForClass("DDIMScheduler");
        config.TimestepSpacing = "linspace";
        config.ClipSample = false;
        var ddim = new DdimScheduler(config);
        ddim.SetTimesteps(3);
        Assert.Equal([999.0, 500.0, 0.0], ddim.Timesteps);

        var step = ddim.Step([0f], 999, [1f]);

        Assert.Equal(Math.Sqrt(ddim.AlphasCumprod[666] / ddim.AlphasCumprod[999]), step.PrevSample[0], 1e-4);
    }

    [Fact]
    public void Stochastic_steps_without_noise_sources_fail_clearly()
    {
        var ancestral = SchedulerFactory.Create("euler-a");
        ancestral.SetTimesteps(5);
        var error = Assert.Throws<ArgumentException>(() => ancestral.Step([0f, 0f], ancestral.Timesteps[0], [1f, 1f]));
        Assert.Contains("INoiseSource", error.Message);

        var ddim = SchedulerFactory.Create("ddim");
        Assert.Throws<InvalidOperationException>(() => ddim.Step([0f], 999, [1f]));
    }

    [Fact]
    public void Each_sample_of_a_batch_gets_the_noise_of_its_own_source()
    {
        // Sample 1 of a batch of 2 equals the same sample run alone with the same source seed.
        var batch = SchedulerFactory.Create("euler-a");
        var alone = SchedulerFactory.Create("euler-a");
        batch.SetTimesteps(4);
        alone.SetTimesteps(4);
        float[] x = [0.3f, -0.1f, 0.7f, 0.2f];
        float[] model = [0.1f, 0.2f, -0.3f, 0.4f];
        var batchNoise = GaussianNoise.PerSample(5, 2);
        var aloneNoise = new INoiseSource[] { new GaussianNoise(6) };

        float[] both = x, one = x[2..];
        foreach (double t in batch.Timesteps)
        {
            both = batch.Step(model, t, both, batchNoise).PrevSample;
            one = alone.Step(model.AsSpan(2), t, one, aloneNoise).PrevSample;
        }

        Assert.Equal(one, both[2..]);
    }

    [Fact]
    public void Swapping_a_scheduler_by_config_runs_the_new_class()
    {
        var ddpm = SchedulerFactory.Create("ddpm");
        var euler = SchedulerFactory.Create("euler", ddpm.Config);
        euler.SetTimesteps(10);
        Assert.Equal("EulerDiscreteScheduler", euler.Config.ClassName);
        Assert.Equal("leading", euler.Config.TimestepSpacing); // DDPM's value, kept as diffusers' from_config keeps it
        Assert.True(euler.InitNoiseSigma > 1);
    }

    [Fact]
    public void FromConfig_on_a_class_swaps_like_create()
    {
        var dpmConfig = SchedulerConfig.ForClass("DPMSolverMultistepScheduler");
        dpmConfig.BetaSchedule = "scaled_linear";
        dpmConfig.Extra["skip_prk_steps"] = true;

        var ddim = DdimScheduler.FromConfig(dpmConfig);

        Assert.Equal("scaled_linear", ddim.Config.BetaSchedule);
        Assert.Equal("linspace", ddim.Config.TimestepSpacing); // DPM's value: a field DPM has is kept
        Assert.True(ddim.Config.SetAlphaToOne);                 // DDIM's default: DPM has no such field
        Assert.True(ddim.Config.Extra["skip_prk_steps"]!.GetValue<bool>());
        Assert.Equal(SchedulerFactory.Create("ddim", dpmConfig).Config.ToJson(), ddim.Config.ToJson());
    }
}
