using System.Text.Json.Nodes;
using Tessera.Diffusion.Schedulers;
using Tessera.Formats;
using SchedulerFactory = Tessera.Diffusion.Schedulers.Schedulers;

namespace Tessera.Diffusion.Tests.Schedulers;

public class SchedulerConfigTests
{
    // The shape of a real diffusers DPMSolverMultistepScheduler config (PixArt-alpha's, diffusers 0.22): Python's json
    // module writes lambda_min_clipped's default -inf as a bare -Infinity, and keys of other classes ride along.
    const string PixArtDpmConfig = """
        {
          "_class_name": "DPMSolverMultistepScheduler",
          "_diffusers_version": "0.22.0.dev0",
          "algorithm_type": "dpmsolver++",
          "beta_end": 0.02,
          "beta_schedule": "linear",
          "beta_start": 0.0001,
          "dynamic_thresholding_ratio": 0.995,
          "euler_at_final": false,
          "lambda_min_clipped": -Infinity,
          "lower_order_final": true,
          "num_train_timesteps": 1000,
          "prediction_type": "epsilon",
          "sample_max_value": 1.0,
          "solver_order": 2,
          "solver_type": "midpoint",
          "steps_offset": 0,
          "thresholding": false,
          "timestep_spacing": "linspace",
          "trained_betas": null,
          "use_karras_sigmas": false,
          "use_lu_lambdas": false,
          "variance_type": null
        }
        """;

    static readonly string[] classNames =
        ["DDPMScheduler", "DDIMScheduler", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler"];

    [Fact]
    public void A_real_config_with_bare_minus_infinity_loads_runs_and_saves_it_back_bare()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("scheduler_config.json"), PixArtDpmConfig);

        var scheduler = SchedulerFactory.FromFolder(dir.Path);

        var dpm = Assert.IsType<DpmSolverMultistepScheduler>(scheduler);
        Assert.Equal(double.NegativeInfinity, dpm.Config.LambdaMinClipped);
        Assert.Equal("0.22.0.dev0", dpm.Config.DiffusersVersion);
        Assert.Null(dpm.Config.VarianceType);
        dpm.SetTimesteps(20);
        Assert.Equal(20, dpm.Timesteps.Count);
        Assert.Equal([999.0, 949.0], dpm.Timesteps.Take(2));

        SchedulerFactory.Save(scheduler, dir.File("saved"));
        string saved = File.ReadAllText(dir.File("saved/scheduler_config.json"));
        Assert.Contains("\"lambda_min_clipped\": -Infinity", saved);
        Assert.Contains("\"use_lu_lambdas\": false", saved);
        Assert.Equal(-1, saved.IndexOf('\uE000'));
    }

    [Fact]
    public void Pythons_json_reads_what_we_write()
    {
        Requires.Python();
        using var dir = new TempDirectory();
        var config = SchedulerConfig.Parse(PixArtDpmConfig);
        config.Extra["nested"] = new JsonObject { ["list"] = new JsonArray(1, "two", null) };
        config.Save(dir.File("c.json"));

        string result = ReferencePython.Run("import json, sys\nc = json.load(open(sys.argv[1]))\nprint(c['lambda_min_clipped'], c['_class_name'], c['nested']['list'], c['trained_betas'])", dir.File("c.json"));

        Assert.Equal("-inf DPMSolverMultistepScheduler [1, 'two', None] None", result.Trim());
    }

    [Fact]
    public void Round_trip_keeps_unknown_keys_and_other_classes_fields()
    {
        const string json = """
            {
              "_class_name": "EulerDiscreteScheduler",
              "_diffusers_version": "0.19.3",
              "beta_schedule": "scaled_linear",
              "beta_start": 0.00085,
              "beta_end": 0.012,
              "clip_sample": false,
              "set_alpha_to_one": false,
              "skip_prk_steps": true,
              "some_future_key": {"a": [1, 2.5, NaN, Infinity], "b": "text with \"Infinity\" inside"},
              "timestep_spacing": "leading",
              "steps_offset": 1
            }
            """;
        using var dir = new TempDirectory();
        var config = SchedulerConfig.Parse(json, "in.json");

        Assert.True(config.Extra["skip_prk_steps"]!.GetValue<bool>());
        Assert.False(config.ClipSample);
        config.Save(dir.File("a.json"));
        var again = SchedulerConfig.Load(dir.File("a.json"));
        again.Save(dir.File("b.json"));

        string first = File.ReadAllText(dir.File("a.json")), second = File.ReadAllText(dir.File("b.json"));
        Assert.Equal(first, second);
        Assert.Contains("\"skip_prk_steps\": true", first);
        Assert.Contains("NaN,", first);
        Assert.Contains("Infinity", first);
        Assert.Contains("text with \\\"Infinity\\\" inside", first);
        Assert.Contains("\"clip_sample\": false", first);        // not Euler's, kept because the file had it
        Assert.Contains("\"set_alpha_to_one\": false", first);
        Assert.Contains("\"use_karras_sigmas\": false", first);  // Euler's own, written with its default
        Assert.DoesNotContain("solver_order", first);            // neither in the file nor Euler's
        Assert.Equal(0.00085, again.BetaStart);
        Assert.Equal("leading", again.TimestepSpacing);
        Assert.Equal(1, again.StepsOffset);
        Assert.True(first.IndexOf("\"_class_name\"") < first.IndexOf("\"beta_end\""), "keys sorted like Python's sort_keys");
    }

    [Theory]
    [InlineData("DDPMScheduler", "leading", true, true, "fixed_small", 2)]
    [InlineData("DDIMScheduler", "leading", true, true, "fixed_small", 2)]
    [InlineData("EulerDiscreteScheduler", "linspace", true, true, "fixed_small", 2)]
    [InlineData("DPMSolverMultistepScheduler", "linspace", true, true, null, 2)]
    public void Missing_keys_take_the_defaults_of_the_class_named(string className, string spacing, bool clip, bool alphaToOne, string? variance, int order)
    {
        var config = SchedulerConfig.Parse($$"""{"_class_name": "{{className}}"}""");

        Assert.Equal(spacing, config.TimestepSpacing);
        Assert.Equal(clip, config.ClipSample);
        Assert.Equal(alphaToOne, config.SetAlphaToOne);
        Assert.Equal(variance, config.VarianceType);
        Assert.Equal(order, config.SolverOrder);
        Assert.Equal(1000, config.NumTrainTimesteps);
        Assert.Equal(double.NegativeInfinity, config.LambdaMinClipped);
        Assert.Equal(className, SchedulerFactory.Create(config).Config.ClassName);
    }

    // Non-default values for every field each class owns (valid for all five classes).
    static SchedulerConfig Customized(string className)
    {
        var c = SchedulerConfig.ForClass(className);
        c.NumTrainTimesteps = 500;
        c.BetaStart = 0.0002;
        c.BetaEnd = 0.015;
        c.BetaSchedule = "scaled_linear";
        c.PredictionType = "v_prediction";
        c.TimestepSpacing = "trailing";
        c.StepsOffset = 1;
        switch (className)
        {
            case "DDPMScheduler": c.VarianceType = "fixed_large"; c.ClipSample = false; c.ClipSampleRange = 2; break;
            case "DDIMScheduler": c.SetAlphaToOne = false; c.ClipSample = false; c.Thresholding = true; break;
            case "EulerDiscreteScheduler": c.UseKarrasSigmas = true; c.FinalSigmasType = "sigma_min"; break;
            case "DPMSolverMultistepScheduler": c.SolverOrder = 1; c.SolverType = "heun"; c.LowerOrderFinal = false; c.EulerAtFinal = true; c.LambdaMinClipped = -5; break;
        }
        c.Extra["unknown_key"] = "kept";
        return c;
    }

    public static TheoryData<string, string> Pairs =>
        [.. from a in classNames from b in classNames where a != b select (a, b)];

    [Theory]
    [MemberData(nameof(Pairs))]
    public void From_config_keeps_the_shared_fields_and_gives_the_others_the_new_class_defaults(string from, string to)
    {
        var source = SchedulerFactory.Create(Customized(from));
        var sourceJson = JsonNode.Parse(SchedulerConfig.MarkNonFiniteLiterals(source.Config.ToJson()))!.AsObject();
        var defaults = JsonNode.Parse(SchedulerConfig.MarkNonFiniteLiterals(SchedulerConfig.ForClass(to).ToJson()))!.AsObject();

        var swapped = SchedulerFactory.Create(to, from: source.Config);
        var json = JsonNode.Parse(SchedulerConfig.MarkNonFiniteLiterals(swapped.Config.ToJson()))!.AsObject();

        Assert.Equal(to, swapped.Config.ClassName);
        foreach (var (key, value) in sourceJson)
            if (key != "_class_name")
                Assert.True(JsonNode.DeepEquals(value, json[key]), $"{from} -> {to}: {key} is {json[key]?.ToJsonString() ?? "missing"}, expected {value?.ToJsonString()}");
        foreach (var (key, value) in defaults)
            if (!sourceJson.ContainsKey(key))
                Assert.True(JsonNode.DeepEquals(value, json[key]), $"{from} -> {to}: {key} is {json[key]?.ToJsonString()}, expected {to}'s default {value?.ToJsonString()}");

        // And back: nothing of the first class is lost on the way (the second class's fields ride along, as in diffusers).
        var back = JsonNode.Parse(SchedulerConfig.MarkNonFiniteLiterals(SchedulerFactory.Create(from, from: swapped.Config).Config.ToJson()))!.AsObject();
        foreach (var (key, value) in sourceJson)
            Assert.True(JsonNode.DeepEquals(value, back[key]), $"{from} -> {to} -> {from}: {key} is {back[key]?.ToJsonString() ?? "missing"}, expected {value?.ToJsonString()}");
    }

    [Theory]
    [InlineData("""{"num_train_timesteps": 0}""", "num_train_timesteps")]
    [InlineData("""{"num_train_timesteps": 1e12}""", "num_train_timesteps")]
    [InlineData("""{"num_train_timesteps": -5}""", "num_train_timesteps")]
    [InlineData("""{"num_train_timesteps": 2.5}""", "num_train_timesteps")]
    [InlineData("""{"num_train_timesteps": "1000"}""", "num_train_timesteps")]
    [InlineData("""{"beta_schedule": "sigmoid_v9"}""", "beta_schedule")]
    [InlineData("""{"num_train_timesteps": 4, "trained_betas": [0.1, 0.2, 0.3]}""", "trained_betas")]
    [InlineData("""{"num_train_timesteps": 1e12, "trained_betas": [0.1]}""", "num_train_timesteps")]
    [InlineData("""{"num_train_timesteps": 3, "trained_betas": [0.1, 0.2, 7]}""", "trained_betas")]
    [InlineData("""{"trained_betas": "0.1"}""", "trained_betas")]
    [InlineData("""{"prediction_type": "flow_prediction"}""", "prediction_type")]
    [InlineData("""{"timestep_spacing": "quadratic"}""", "timestep_spacing")]
    [InlineData("""{"clip_sample": "yes"}""", "clip_sample")]
    [InlineData("""{"_class_name": "DPMSolverMultistepScheduler", "solver_order": 3}""", "solver_order")]
    [InlineData("""{"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "dpmsolver"}""", "algorithm_type")]
    [InlineData("""{"_class_name": "EulerDiscreteScheduler", "use_beta_sigmas": true}""", "use_beta_sigmas")]
    [InlineData("""{"_class_name": "DDPMScheduler", "variance_type": "learned_range"}""", "variance_type")]
    [InlineData("""{"_class_name": "PNDMScheduler"}""", "PNDMScheduler")]
    [InlineData("""[1, 2]""", "JSON object")]
    [InlineData("""{"num_train_timesteps": 10""", "not valid JSON")]
    public void Hostile_configs_give_one_clear_error_naming_file_and_field(string json, string expected)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("scheduler_config.json"), json);
        long before = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<TesseraFormatException>(() => SchedulerFactory.FromFolder(dir.Path));

        Assert.Contains(expected, error.Message);
        Assert.Contains(dir.File("scheduler_config.json"), error.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "no large allocation before the error");
    }

    [Fact]
    public void A_missing_folder_file_is_a_format_error_naming_it()
    {
        using var dir = new TempDirectory();
        var error = Assert.Throws<TesseraFormatException>(() => SchedulerFactory.FromFolder(dir.Path));
        Assert.Contains("scheduler_config.json", error.Message);
    }

    [Theory]
    [InlineData("ddpm", typeof(DdpmScheduler))]
    [InlineData("DDIM", typeof(DdimScheduler))]
    [InlineData("euler", typeof(EulerDiscreteScheduler))]
    [InlineData("euler-a", typeof(EulerAncestralDiscreteScheduler))]
    [InlineData("dpm++", typeof(DpmSolverMultistepScheduler))]
    [InlineData("DPMSolverMultistepScheduler", typeof(DpmSolverMultistepScheduler))]
    public void Create_takes_short_and_class_names(string name, Type type) =>
        Assert.IsType(type, SchedulerFactory.Create(name));

    [Fact]
    public void An_unknown_short_name_lists_the_known_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => SchedulerFactory.Create("heun"));
        Assert.Contains("euler-a", error.Message);
    }

    [Fact]
    public void Non_finite_literals_inside_strings_stay_strings()
    {
        var config = SchedulerConfig.Parse("""{"note": "NaN -Infinity", "x": [NaN]}""");
        Assert.Equal("NaN -Infinity", config.Extra["note"]!.GetValue<string>());
        Assert.Contains("\"note\": \"NaN -Infinity\"", config.ToJson());
        Assert.Contains("NaN", config.Extra["x"]!.ToJsonString());
    }
}
