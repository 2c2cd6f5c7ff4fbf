using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Tessera.Formats;
using Tessera.Transformers;

namespace Tessera.Diffusion;

/// <summary>
/// Configuration of diffusers' <c>UNet2DModel</c>: its <c>config.json</c> with diffusers' field names and defaults
/// (<c>_class_name</c> <c>UNet2DModel</c>, no <c>model_type</c>). Keys this version does not model are kept and
/// written back. Registered in the model registry under the model type <see cref="Type"/> (the class name), which
/// <see cref="PretrainedConfig.Load(string)"/> takes from <c>_class_name</c> when a file has no <c>model_type</c>.
/// </summary>
public sealed record UNet2DConfig : PretrainedConfig
{
    /// <summary>The diffusers class name, used as this architecture's <c>model_type</c>.</summary>
    public const string Type = "UNet2DModel";

    /// <summary>The block types this version builds.</summary>
    public static IReadOnlyList<string> SupportedDownBlockTypes { get; } = ["DownBlock2D", "AttnDownBlock2D"];

    /// <summary>The up block types this version builds.</summary>
    public static IReadOnlyList<string> SupportedUpBlockTypes { get; } = ["UpBlock2D", "AttnUpBlock2D"];

    /// <summary>Creates a config with diffusers' defaults.</summary>
    public UNet2DConfig() => ModelType = Type;

    /// <summary>The diffusers class (<c>_class_name</c>).</summary>
    [JsonPropertyName("_class_name")]
    [JsonPropertyOrder(-3)]
    public string ClassName { get; init; } = Type;

    /// <summary>The diffusers version that wrote the file (<c>_diffusers_version</c>); informative.</summary>
    [JsonPropertyName("_diffusers_version")]
    [JsonPropertyOrder(-3)]
    public string? DiffusersVersion { get; init; } = "0.31.0";

    /// <summary>
    /// Height of the images, and their width unless <see cref="SampleWidth"/> says otherwise (<c>sample_size</c>: one
    /// number, or <c>[height, width]</c>); null when unknown.
    /// </summary>
    [JsonIgnore]
    public int? SampleSize { get; init; }

    /// <summary>Width of the images when <c>sample_size</c> is <c>[height, width]</c>; null means the same as <see cref="SampleSize"/>.</summary>
    [JsonIgnore]
    public int? SampleWidth { get; init; }

    /// <summary>Width of the images: <see cref="SampleWidth"/>, else <see cref="SampleSize"/>.</summary>
    [JsonIgnore]
    public int? SampleSizeWidth => SampleWidth ?? SampleSize;

    /// <summary><c>sample_size</c> as written: a number, or <c>[height, width]</c> when the width differs or the file gave a list.</summary>
    [JsonInclude]
    [JsonPropertyName("sample_size")]
    JsonNode? SampleSizeJson
    {
        get => SampleSize is not { } h ? null
            : SampleWidth is { } w || sampleSizeAsList ? new JsonArray(h, SampleWidth ?? h) : JsonValue.Create(h);
        init
        {
            switch (value)
            {
                case null:
                    SampleSize = null;
                    break;
                case JsonValue v when v.TryGetValue(out int n):
                    SampleSize = n;
                    break;
                case JsonArray { Count: 2 } a when a[0] is JsonValue hv && hv.TryGetValue(out int h) && a[1] is JsonValue wv && wv.TryGetValue(out int w):
                    SampleSize = h;
                    SampleWidth = w == h ? null : w;
                    sampleSizeAsList = true;
                    break;
                default:
                    throw new JsonException($"sample_size must be an integer or [height, width], got {value.ToJsonString()}");
            }
        }
    }

    readonly bool sampleSizeAsList;

    /// <summary>Channels of the input image.</summary>
    [JsonPropertyName("in_channels")]
    public int InChannels { get; init; } = 3;

    /// <summary>Channels of the output.</summary>
    [JsonPropertyName("out_channels")]
    public int OutChannels { get; init; } = 3;

    /// <summary>Whether the input is mapped from [0, 1] to [-1, 1] first (<c>2x - 1</c>).</summary>
    [JsonPropertyName("center_input_sample")]
    public bool CenterInputSample { get; init; }

    /// <summary>Timestep embedding; only <c>positional</c> (sinusoidal) is supported.</summary>
    [JsonPropertyName("time_embedding_type")]
    public string TimeEmbeddingType { get; init; } = "positional";

    /// <summary>Width of the time embedding; <c>block_out_channels[0] * 4</c> when null.</summary>
    [JsonPropertyName("time_embedding_dim")]
    public int? TimeEmbeddingDim { get; init; }

    /// <summary>Shift of the sinusoidal frequencies (<c>freq_shift</c>, diffusers' <c>downscale_freq_shift</c>).</summary>
    [JsonPropertyName("freq_shift")]
    public double FreqShift { get; init; }

    /// <summary>Whether the sinusoidal embedding is ordered cos, sin (true) instead of sin, cos.</summary>
    [JsonPropertyName("flip_sin_to_cos")]
    public bool FlipSinToCos { get; init; } = true;

    /// <summary>The down blocks, from the input resolution down: <c>DownBlock2D</c> or <c>AttnDownBlock2D</c>.</summary>
    [JsonPropertyName("down_block_types")]
    public IReadOnlyList<string> DownBlockTypes { get; init; } = ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"];

    /// <summary>The middle block; only <c>UNetMidBlock2D</c> is supported.</summary>
    [JsonPropertyName("mid_block_type")]
    public string? MidBlockType { get; init; } = "UNetMidBlock2D";

    /// <summary>The up blocks, from the lowest resolution up: <c>UpBlock2D</c> or <c>AttnUpBlock2D</c>.</summary>
    [JsonPropertyName("up_block_types")]
    public IReadOnlyList<string> UpBlockTypes { get; init; } = ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"];

    /// <summary>Output channels of each down block (and, reversed, of the up blocks).</summary>
    [JsonPropertyName("block_out_channels")]
    public IReadOnlyList<int> BlockOutChannels { get; init; } = [224, 448, 672, 896];

    /// <summary>Resnet layers per down block (up blocks have one more).</summary>
    [JsonPropertyName("layers_per_block")]
    public int LayersPerBlock { get; init; } = 2;

    /// <summary>Output scale of the middle block's resnets and attention.</summary>
    [JsonPropertyName("mid_block_scale_factor")]
    public double MidBlockScaleFactor { get; init; } = 1;

    /// <summary>Padding of the stride-2 downsampling convolution.</summary>
    [JsonPropertyName("downsample_padding")]
    public int DownsamplePadding { get; init; } = 1;

    /// <summary>Downsampling layer; only <c>conv</c> is supported.</summary>
    [JsonPropertyName("downsample_type")]
    public string DownsampleType { get; init; } = "conv";

    /// <summary>Upsampling layer; only <c>conv</c> (nearest x2 then 3x3 conv) is supported.</summary>
    [JsonPropertyName("upsample_type")]
    public string UpsampleType { get; init; } = "conv";

    /// <summary>Dropout inside the resnets.</summary>
    [JsonPropertyName("dropout")]
    public double Dropout { get; init; }

    /// <summary>Activation of the resnets: <c>silu</c>/<c>swish</c>, <c>mish</c>, <c>gelu</c> or <c>relu</c>.</summary>
    [JsonPropertyName("act_fn")]
    public string ActFn { get; init; } = "silu";

    /// <summary>Channels per attention head; null means one head over all channels.</summary>
    [JsonPropertyName("attention_head_dim")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public int? AttentionHeadDim { get; init; } = 8;

    /// <summary>Groups of every GroupNorm.</summary>
    [JsonPropertyName("norm_num_groups")]
    public int NormNumGroups { get; init; } = 32;

    /// <summary>Groups of the middle block's attention norm; <c>norm_num_groups</c> when null.</summary>
    [JsonPropertyName("attn_norm_num_groups")]
    public int? AttnNormNumGroups { get; init; }

    /// <summary>Epsilon of every GroupNorm.</summary>
    [JsonPropertyName("norm_eps")]
    public double NormEps { get; init; } = 1e-5;

    /// <summary>How the time embedding enters a resnet: <c>default</c> (added) or <c>scale_shift</c>.</summary>
    [JsonPropertyName("resnet_time_scale_shift")]
    public string ResnetTimeScaleShift { get; init; } = "default";

    /// <summary>Whether the middle block has its attention layer.</summary>
    [JsonPropertyName("add_attention")]
    public bool AddAttention { get; init; } = true;

    /// <summary>Class conditioning: null (an embedding table when <c>num_class_embeds</c> is set), <c>timestep</c> or <c>identity</c>.</summary>
    [JsonPropertyName("class_embed_type")]
    public string? ClassEmbedType { get; init; }

    /// <summary>Number of class labels of the embedding table; null for an unconditional model.</summary>
    [JsonPropertyName("num_class_embeds")]
    public int? NumClassEmbeds { get; init; }

    /// <summary>Training timesteps (informative; the scheduler holds the real value).</summary>
    [JsonPropertyName("num_train_timesteps")]
    public int? NumTrainTimesteps { get; init; }

    /// <summary>Width of the time embedding the blocks receive.</summary>
    [JsonIgnore]
    public int TimeEmbedDim => TimeEmbeddingDim ?? BlockOutChannels[0] * 4;

    /// <summary>Whether the model takes class labels (it has a class embedding).</summary>
    [JsonIgnore]
    public bool IsClassConditional => ClassEmbedType is not null || NumClassEmbeds is not null;

    /// <inheritdoc/>
    public override void Validate()
    {
        Require(ClassName == Type, "_class_name", $"expected \"{Type}\", got \"{ClassName}\"");
        Require(InChannels > 0, "in_channels", $"must be positive, got {InChannels}");
        Require(OutChannels > 0, "out_channels", $"must be positive, got {OutChannels}");
        Require(SampleSize is null or > 0, "sample_size", $"must be positive, got {SampleSize}");
        Require(SampleWidth is null || (SampleWidth > 0 && SampleSize is not null), "sample_size", $"the width must be positive, got {SampleWidth}");
        Require(TimeEmbeddingType == "positional", "time_embedding_type", $"only \"positional\" is supported, got \"{TimeEmbeddingType}\"");
        Require(BlockOutChannels is { Count: > 0 }, "block_out_channels", "must list at least one block");
        Require(DownBlockTypes is not null && DownBlockTypes.Count == BlockOutChannels!.Count, "down_block_types",
            $"must have one entry per block_out_channels entry ({BlockOutChannels!.Count}), got {DownBlockTypes?.Count ?? 0}");
        Require(UpBlockTypes is not null && UpBlockTypes.Count == BlockOutChannels.Count, "up_block_types",
            $"must have one entry per block_out_channels entry ({BlockOutChannels.Count}), got {UpBlockTypes?.Count ?? 0}");
        foreach (string t in DownBlockTypes!)
            Require(SupportedDownBlockTypes.Contains(t), "down_block_types", $"unknown block type \"{t}\" (supported: {string.Join(", ", SupportedDownBlockTypes)})");
        foreach (string t in UpBlockTypes!)
            Require(SupportedUpBlockTypes.Contains(t), "up_block_types", $"unknown block type \"{t}\" (supported: {string.Join(", ", SupportedUpBlockTypes)})");
        Require(MidBlockType == "UNetMidBlock2D", "mid_block_type", $"only \"UNetMidBlock2D\" is supported, got \"{MidBlockType}\"");
        Require(NormNumGroups > 0, "norm_num_groups", $"must be positive, got {NormNumGroups}");
        foreach (int c in BlockOutChannels)
        {
            Require(c > 0, "block_out_channels", $"entries must be positive, got {c}");
            Require(c % NormNumGroups == 0, "block_out_channels", $"{c} is not divisible by norm_num_groups ({NormNumGroups})");
            if (AttentionHeadDim is { } d) Require(d > 0 && c % d == 0, "attention_head_dim", $"{d} does not divide the block width {c}");
        }
        Require(AttnNormNumGroups is null || (AttnNormNumGroups > 0 && BlockOutChannels[^1] % AttnNormNumGroups == 0), "attn_norm_num_groups",
            $"must divide the last block width {BlockOutChannels[^1]}, got {AttnNormNumGroups}");
        Require(LayersPerBlock > 0, "layers_per_block", $"must be positive, got {LayersPerBlock}");
        Require(TimeEmbeddingDim is null or > 0, "time_embedding_dim", $"must be positive, got {TimeEmbeddingDim}");
        Require(DownsamplePadding is 0 or 1, "downsample_padding", $"must be 0 or 1, got {DownsamplePadding}");
        Require(DownsampleType == "conv", "downsample_type", $"only \"conv\" is supported, got \"{DownsampleType}\"");
        Require(UpsampleType == "conv", "upsample_type", $"only \"conv\" is supported, got \"{UpsampleType}\"");
        Require(Dropout is >= 0 and < 1, "dropout", $"must be in [0, 1), got {Dropout}");
        Require(ActFn is "silu" or "swish" or "mish" or "gelu" or "relu", "act_fn", $"unsupported activation \"{ActFn}\" (supported: silu, swish, mish, gelu, relu)");
        Require(NormEps > 0, "norm_eps", $"must be positive, got {NormEps}");
        Require(ResnetTimeScaleShift is "default" or "scale_shift", "resnet_time_scale_shift", $"must be \"default\" or \"scale_shift\", got \"{ResnetTimeScaleShift}\"");
        Require(MidBlockScaleFactor > 0, "mid_block_scale_factor", $"must be positive, got {MidBlockScaleFactor}");
        Require(ClassEmbedType is null or "timestep" or "identity", "class_embed_type", $"must be null, \"timestep\" or \"identity\", got \"{ClassEmbedType}\"");
        Require(ClassEmbedType is not null || NumClassEmbeds is null or > 0, "num_class_embeds", $"must be positive, got {NumClassEmbeds}");
    }

    /// <summary>The config as diffusers writes it: <see cref="PretrainedConfig.ToJson"/> without <c>model_type</c>.</summary>
    public string ToDiffusersJson()
    {
        var node = JsonNode.Parse(ToJson())!.AsObject();
        node.Remove("model_type");
        return node.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Writes <see cref="ToDiffusersJson"/> to <paramref name="path"/> atomically.</summary>
    public void SaveDiffusers(string path) => AtomicFile.WriteAllText(path, ToDiffusersJson() + "\n");

    /// <summary>Reads a diffusers <c>config.json</c> (or the one in a folder) that must describe a <c>UNet2DModel</c>.</summary>
    /// <exception cref="FileNotFoundException">There is no config.json.</exception>
    /// <exception cref="TesseraFormatException">The file is not JSON, names another class, or holds an invalid value; the message names the file and field.</exception>
    public static new UNet2DConfig Load(string path) => Load<UNet2DConfig>(path);

    /// <summary>Value equality over every field (lists by content) and the kept unknown keys.</summary>
    public bool Equals(UNet2DConfig? other) => other is not null && base.Equals(other) && ToJson() == other.ToJson();

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), InChannels, OutChannels, BlockOutChannels.Count);
}
