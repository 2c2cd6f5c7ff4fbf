using System.Globalization;
using Tessera.Formats;
using Tessera.Models;
using Tessera.Transformers;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Diffusion;

/// <summary>
/// diffusers' <c>UNet2DModel</c>: the denoising UNet of DDPM-style pipelines, with diffusers' parameter names
/// (<c>conv_in</c>, <c>time_embedding.linear_1/2</c>, <c>class_embedding</c>, <c>down_blocks.{i}.resnets.{j}.*</c>,
/// <c>down_blocks.{i}.attentions.{j}.*</c>, <c>down_blocks.{i}.downsamplers.0.conv</c>, <c>mid_block.*</c>,
/// <c>up_blocks.*</c>, <c>up_blocks.{i}.upsamplers.0.conv</c>, <c>conv_norm_out</c>, <c>conv_out</c>), so a diffusers
/// checkpoint (<c>config.json</c> + <c>diffusion_pytorch_model.safetensors</c>) loads unchanged.
/// </summary>
/// <remarks>
/// <c>forward(sample [B, C, H, W], timestep [] or [B], classLabels [B] or null)</c> returns the model output with the
/// sample's shape (the predicted noise, sample or velocity, as the scheduler's <c>prediction_type</c> says). H and W
/// must be divisible by <c>2^(blocks - 1)</c>.
/// </remarks>
public sealed class UNet2DModel : nn.Module<Tensor, Tensor, Tensor?, Tensor>, IPretrainedModel
{
    /// <summary>The weights file of a diffusers model folder.</summary>
    public const string WeightsFile = Tessera.Diffusion.Pipelines.PipelineFolder.WeightsFile;

    [ComponentName(Name = "conv_in")] readonly Conv2d convIn;
    [ComponentName(Name = "time_embedding")] readonly TimestepEmbedding timeEmbedding;
    [ComponentName(Name = "class_embedding")] readonly nn.Module? classEmbedding;
    [ComponentName(Name = "down_blocks")] readonly ModuleList<UNetDownBlock> downBlocks = new();
    [ComponentName(Name = "mid_block")] readonly UNetMidBlock midBlock;
    [ComponentName(Name = "up_blocks")] readonly ModuleList<UNetUpBlock> upBlocks = new();
    [ComponentName(Name = "conv_norm_out")] readonly GroupNorm convNormOut;
    [ComponentName(Name = "conv_out")] readonly Conv2d convOut;

    /// <summary>Builds the model with freshly initialised weights (PyTorch's default initialisation).</summary>
    /// <exception cref="ArgumentException">The config is invalid; the message names the field.</exception>
    public UNet2DModel(UNet2DConfig config) : base(nameof(UNet2DModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var widths = config.BlockOutChannels;
        int timeDim = config.TimeEmbedDim;
        convIn = nn.Conv2d(config.InChannels, widths[0], 3, padding: 1);
        timeEmbedding = new TimestepEmbedding(widths[0], timeDim);
        classEmbedding = config.ClassEmbedType switch
        {
            "timestep" => new TimestepEmbedding(widths[0], timeDim),
            "identity" => nn.Identity(),
            _ => config.NumClassEmbeds is { } n ? nn.Embedding(n, timeDim) : null,
        };

        int output = widths[0];
        for (int i = 0; i < widths.Count; i++)
        {
            int input = output;
            output = widths[i];
            downBlocks.Add(new UNetDownBlock(input, output, config.DownBlockTypes[i] == "AttnDownBlock2D", i < widths.Count - 1, config));
        }
        midBlock = new UNetMidBlock(widths[^1], config);
        var reversed = widths.Reverse().ToArray();
        output = reversed[0];
        for (int i = 0; i < reversed.Length; i++)
        {
            int prev = output;
            output = reversed[i];
            int input = reversed[Math.Min(i + 1, reversed.Length - 1)];
            upBlocks.Add(new UNetUpBlock(input, prev, output, config.UpBlockTypes[i] == "AttnUpBlock2D", i < reversed.Length - 1, config));
        }
        convNormOut = UNet2DModel.NewGroupNorm(config.NormNumGroups, widths[0], config.NormEps);
        convOut = nn.Conv2d(widths[0], config.OutChannels, 3, padding: 1);
        RegisterComponents();
    }

    /// <summary>The configuration this model was built from.</summary>
    public UNet2DConfig Config { get; }

    /// <inheritdoc/>
    public PretrainedConfig PretrainedConfig => Config;

    /// <summary>A GroupNorm with weight 1 and bias 0, as PyTorch initialises it.</summary>
    internal static GroupNorm NewGroupNorm(long groups, long channels, double eps)
    {
        // TorchSharp 0.107's GroupNorm leaves its affine parameters uninitialised (seen: NaN and huge values), so set them here.
        GroupNorm norm = nn.GroupNorm(groups, channels, eps);
        using var noGrad = no_grad();
        norm.weight!.fill_(1);
        norm.bias!.zero_();
        return norm;
    }

    /// <summary>The attention heads of a block of <paramref name="channels"/> channels: <c>channels / attention_head_dim</c>, or one when it is null.</summary>
    internal static int HeadsFor(UNet2DConfig config, long channels) => config.AttentionHeadDim is { } d ? (int)(channels / d) : 1;

    /// <summary>
    /// Maps the attention names of older diffusers checkpoints (<c>query</c>, <c>key</c>, <c>value</c>,
    /// <c>proj_attn</c>) to the current ones (<c>to_q</c>, <c>to_k</c>, <c>to_v</c>, <c>to_out.0</c>), as diffusers does
    /// on load; other names are returned unchanged.
    /// </summary>
    public static string RenameLegacyKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        int at = key.IndexOf(".attentions.", StringComparison.Ordinal);
        if (at < 0) return key;
        foreach (var (legacy, current) in LegacyNames)
        {
            string part = "." + legacy + ".";
            int p = key.IndexOf(part, at + 1, StringComparison.Ordinal);
            if (p >= 0) return key[..p] + "." + current + "." + key[(p + part.Length)..];
        }
        return key;
    }

    static readonly (string, string)[] LegacyNames = [("query", "to_q"), ("key", "to_k"), ("value", "to_v"), ("proj_attn", "to_out.0")];

    /// <inheritdoc/>
    string IPretrainedModel.CheckpointKey(string key) => RenameLegacyKey(key);

    /// <summary>
    /// Loads a diffusers UNet folder: <c>config.json</c> (<c>_class_name</c> <c>UNet2DModel</c>) and
    /// <c>diffusion_pytorch_model.safetensors</c> (or <c>model.safetensors</c>), strictly (every tensor must fill a
    /// parameter of the same shape; legacy attention names are renamed), in eval mode.
    /// </summary>
    /// <exception cref="TesseraFormatException">The config is invalid or the weights do not match; the message names the file.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static UNet2DModel FromPretrained(string folder, FromPretrainedOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new TesseraFormatException(folder, "UNet folder does not exist");
        string configPath = Path.Combine(folder, PretrainedModels.ConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{folder}: not a UNet folder: {PretrainedModels.ConfigFile} is missing", configPath);
        UNet2DConfig config = PretrainedConfig.Load<UNet2DConfig>(configPath);
        string weights = WeightsPath(folder);
        var index = PretrainedWeights.ReadIndex(weights);
        var model = new UNet2DModel(config);
        try
        {
            if (options?.Device is { } device && device.type != DeviceType.CPU) model.to(device);
            PretrainedWeights.LoadInto(model, weights, options ?? new FromPretrainedOptions());
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The weights file of a UNet folder: <see cref="WeightsFile"/>, else <c>model.safetensors</c>.</summary>
    /// <exception cref="FileNotFoundException">Neither exists.</exception>
    public static string WeightsPath(string folder)
    {
        string path = Path.Combine(folder, WeightsFile);
        if (File.Exists(path)) return path;
        string alt = Path.Combine(folder, PretrainedModels.WeightsFile);
        if (File.Exists(alt)) return alt;
        throw new FileNotFoundException($"{folder}: no UNet weights (looked for {WeightsFile} and {PretrainedModels.WeightsFile})", path);
    }

    /// <summary>Writes the model as diffusers does: <c>config.json</c> (no <c>model_type</c>) and <c>diffusion_pytorch_model.safetensors</c>, each atomically.</summary>
    public void SavePretrained(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        PretrainedWeights.SaveFile(this, Path.Combine(folder, WeightsFile));
        Config.SaveDiffusers(Path.Combine(folder, PretrainedModels.ConfigFile));
    }

    /// <summary>The sinusoidal timestep embedding of diffusers' <c>get_timestep_embedding</c> ([B] → [B, dim], float32).</summary>
    internal static Tensor TimestepProjection(Tensor timesteps, long dim, bool flipSinToCos, double freqShift)
    {
        using var scope = NewDisposeScope();
        long half = dim / 2;
        Tensor exponent = arange(0, half, dtype: ScalarType.Float32, device: timesteps.device) * (float)(-Math.Log(10000.0)) / (float)(half - freqShift);
        Tensor args = timesteps.to_type(ScalarType.Float32).unsqueeze(1) * exponent.exp().unsqueeze(0);
        Tensor emb = flipSinToCos ? cat([args.cos(), args.sin()], -1) : cat([args.sin(), args.cos()], -1);
        if (dim % 2 == 1) emb = nn.functional.pad(emb, [0, 1]);
        return emb.MoveToOuterDisposeScope();
    }

    /// <summary>The floating type the UNet computes in (its first convolution's weights'): give <c>sample</c> in it.</summary>
    public ScalarType ComputeType => convIn.weight!.dtype;

    /// <summary>Denoises: <paramref name="sample"/> [B, C, H, W] at <paramref name="timestep"/> (a scalar or one per sample, any numeric type) with optional class labels [B] (int64).</summary>
    /// <exception cref="ArgumentException">Class labels are missing for a class-conditional model, or given to an unconditional one.</exception>
    public override Tensor forward(Tensor sample, Tensor timestep, Tensor? classLabels)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(timestep);
        using var scope = NewDisposeScope();
        long batch = sample.shape[0];
        if (Config.CenterInputSample) sample = sample * 2 - 1.0;
        Tensor t = timestep.dim() == 0 ? timestep.reshape(1) : timestep;
        t = t.to(sample.device).to_type(ScalarType.Float32).expand(batch);
        int width = Config.BlockOutChannels[0];
        Tensor emb = timeEmbedding.call(TimestepProjection(t, width, Config.FlipSinToCos, Config.FreqShift).to_type(sample.dtype));
        if (classEmbedding is not null)
        {
            if (classLabels is null) throw new ArgumentException("class_labels are required: the model is class-conditional (class_embedding)", nameof(classLabels));
            Tensor labels = classLabels.to(sample.device);
            Tensor classEmb = classEmbedding switch
            {
                Embedding table => table.call(labels.to_type(ScalarType.Int64)),
                TimestepEmbedding te => te.call(TimestepProjection(labels, width, Config.FlipSinToCos, Config.FreqShift).to_type(sample.dtype)),
                nn.Module<Tensor, Tensor> identity => identity.call(labels.to_type(sample.dtype)),
                _ => throw new InvalidOperationException("unknown class embedding"),
            };
            emb = emb + classEmb.to_type(sample.dtype);
        }
        else if (classLabels is not null)
        {
            throw new ArgumentException("the model is unconditional (no class_embedding) but class_labels were given", nameof(classLabels));
        }

        Tensor x = convIn.call(sample);
        var states = new List<Tensor> { x };
        foreach (var block in downBlocks) x = block.Forward(x, emb, states);
        x = midBlock.call(x, emb);
        foreach (var block in upBlocks) x = block.Forward(x, emb, states);
        x = OutputConvolution(nn.functional.silu(convNormOut.call(x)));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>Output channels below which <c>conv_out</c> is computed with zero-padded output channels while gradients are recorded.</summary>
    const int MinTrainedOutputChannels = 16;

    /// <summary>
    /// <c>conv_out</c>. On CPU, libtorch's convolution backward (TorchSharp 0.107) leaves part of the input gradient
    /// unwritten when the convolution has one or two output channels: whatever the allocator last held appears there
    /// (seen as NaN gradients in every layer below, intermittently, since it depends on memory reuse). So while
    /// gradients are recorded, the weight and bias are zero-padded to <see cref="MinTrainedOutputChannels"/> output
    /// channels and the extra outputs dropped: the same output and the same gradients, through a path that writes them.
    /// </summary>
    Tensor OutputConvolution(Tensor x)
    {
        long outChannels = convOut.weight!.shape[0];
        if (!is_grad_enabled() || outChannels >= MinTrainedOutputChannels || x.device.type != DeviceType.CPU) return convOut.call(x);
        Tensor weight = convOut.weight!;
        Tensor extraWeight = zeros([MinTrainedOutputChannels - outChannels, .. weight.shape[1..]], dtype: weight.dtype, device: weight.device);
        Tensor? bias = convOut.bias is { } b ? cat([b, zeros([MinTrainedOutputChannels - outChannels], dtype: b.dtype, device: b.device)], 0) : null;
        Tensor padded = nn.functional.conv2d(x, cat([weight, extraWeight], 0), bias, padding: [1, 1]);
        return padded.narrow(1, 0, outChannels);
    }
}
