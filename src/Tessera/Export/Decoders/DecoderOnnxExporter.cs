using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Export.Decoders;

/// <summary>
/// Exports a decoder-only language model (<see cref="Gpt2LMHeadModel"/>, <see cref="LlamaForCausalLM"/>) to an ONNX
/// folder that ONNX Runtime can generate from token by token, with Hugging Face Optimum's names: inputs
/// <c>input_ids</c> [batch, seq], <c>attention_mask</c> [batch, past + seq], <c>position_ids</c> [batch, seq] and
/// <c>past_key_values.{i}.key/.value</c> [batch, kv_heads, past, head_dim] (past may be 0); outputs <c>logits</c>
/// [batch, seq, vocab] and <c>present.{i}.key/.value</c> [batch, kv_heads, past + seq, head_dim]. Positions are
/// <c>cumsum(attention_mask) − 1</c> (1 on padding), as <c>transformers</c>' generate computes them.
/// </summary>
public static class DecoderOnnxExporter
{
    /// <summary>The file name of the exported graph inside the output folder.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary><c>metadata_props</c> key of the exported architecture (<c>gpt2</c>, <c>llama</c>, ...).</summary>
    public const string ModelTypeKey = "tessera.model_type";

    /// <summary>Files copied from <see cref="TransformerExportOptions.SourceFolder"/> when present (config, generation config, tokenizer files).</summary>
    public static IReadOnlyList<string> CompanionFiles => TransformerExportFiles.Names;

    /// <summary>Whether <paramref name="model"/>'s architecture has a decoder graph here.</summary>
    public static bool IsSupported(CausalLanguageModel model) => model is Gpt2LMHeadModel or LlamaForCausalLM;

    /// <summary>
    /// Writes <c>model.onnx</c> (and the config/tokenizer files) into <paramref name="outputDir"/>. With
    /// <see cref="TransformerExportOptions.Verify"/> the graph first runs in ONNX Runtime on a left-padded batch of two
    /// (prefill with no past, then one decode step fed the presents) and is compared with TorchSharp; the file is moved
    /// into place only when it matches.
    /// </summary>
    /// <exception cref="NotSupportedException">The architecture has no decoder graph here.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="TransformerExportOptions.Opset"/> is below 17.</exception>
    /// <exception cref="OnnxExportException">A weight is missing, an activation cannot be exported, ONNX Runtime rejects the graph, or its outputs differ beyond the tolerance.</exception>
    public static DecoderExportReport Export(CausalLanguageModel model, string outputDir, TransformerExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(outputDir);
        options ??= new TransformerExportOptions();
        if (options.Opset < 17) throw new ArgumentOutOfRangeException(nameof(options), options.Opset, "opset must be at least 17 (LayerNormalization)");
        var metadata = new Dictionary<string, string>
        {
            [OnnxExporter.VersionKey] = TesseraInfo.Version,
            [ModelTypeKey] = model.PretrainedConfig.ModelType,
            [OnnxExporter.ConfigKey] = model.PretrainedConfig.ToJson(),
        };
        bool wasTraining = model.training;
        model.eval();
        try
        {
            (Formats.Onnx.ModelProto proto, int kvHeads, int headDim) = model switch
            {
                Gpt2LMHeadModel gpt2 => (Gpt2DecoderGraph.Build(gpt2, metadata, options.Opset, options.OrtFusedAttention), gpt2.Config.NHead, gpt2.Config.HeadDim),
                LlamaForCausalLM when options.OrtFusedAttention => throw new NotSupportedException("OrtFusedAttention supports GPT-2 only; export Llama models without it"),
                LlamaForCausalLM llama => (LlamaDecoderGraph.Build(llama, metadata, options.Opset), llama.Config.KeyValueHeads, llama.Config.HeadDim),
                _ => throw new NotSupportedException($"{model.GetType().Name} has no ONNX decoder graph (supported: GPT-2, Llama family)"),
            };
            long bytes = proto.Graph.Initializer.Sum(t => (long)t.RawData.Length);
            bool external = options.ExternalData ?? bytes > 1_500_000_000L;
            double? prefill = null, decode = null;
            Directory.CreateDirectory(outputDir);
            string path = Path.Combine(Path.GetFullPath(outputDir), ModelFileName);
            string? data = OnnxFileWriter.Write(proto, path, external, temp =>
            {
                if (!options.Verify) return;
                (prefill, decode) = DecoderVerifier.Verify(model, temp, kvHeads, headDim, options.Tolerance);
            });
            var copied = TransformerExportFiles.Copy(model.PretrainedConfig, outputDir, options.SourceFolder);
            return new DecoderExportReport(path, data, model.NumLayers, kvHeads, headDim, model.VocabSize, prefill, decode, copied);
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }
}
