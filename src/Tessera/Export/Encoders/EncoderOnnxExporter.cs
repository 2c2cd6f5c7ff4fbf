using Tessera.Runtime;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Export.Encoders;

/// <summary>
/// Exports BERT encoders (<see cref="BertModel"/>, <see cref="BertForMaskedLM"/>, <see cref="BertForSequenceClassification"/>)
/// to an ONNX folder with Hugging Face Optimum's names: inputs <c>input_ids</c>, <c>attention_mask</c>,
/// <c>token_type_ids</c> [batch, seq]; outputs <c>last_hidden_state</c> [batch, seq, hidden] and <c>pooler_output</c>
/// [batch, hidden] for the bare model, <c>logits</c> [batch, seq, vocab] for masked LM and [batch, num_labels] for
/// classification.
/// </summary>
public static class EncoderOnnxExporter
{
    /// <summary>The file name of the exported graph inside the output folder.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>Whether <paramref name="model"/> has an encoder graph here.</summary>
    public static bool IsSupported(PreTrainedModel model) => model is BertModel or BertForMaskedLM or BertForSequenceClassification;

    /// <summary>
    /// Writes <c>model.onnx</c> (and the config/tokenizer files) into <paramref name="outputDir"/>, after checking it in
    /// ONNX Runtime against TorchSharp on a right-padded batch of two when <see cref="TransformerExportOptions.Verify"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">The model is not a BERT encoder.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="TransformerExportOptions.Opset"/> is below 17.</exception>
    /// <exception cref="OnnxExportException">A weight is missing, ONNX Runtime rejects the graph, or its outputs differ beyond the tolerance.</exception>
    public static EncoderExportReport Export(PreTrainedModel model, string outputDir, TransformerExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(outputDir);
        options ??= new TransformerExportOptions();
        if (options.Opset < 17) throw new ArgumentOutOfRangeException(nameof(options), options.Opset, "opset must be at least 17 (LayerNormalization)");
        BertConfig config = model switch
        {
            BertModel m => m.Config,
            BertForMaskedLM m => m.Config,
            BertForSequenceClassification m => m.Config,
            _ => throw new NotSupportedException($"{model.GetType().Name} has no ONNX encoder graph (supported: BERT)"),
        };
        var metadata = new Dictionary<string, string>
        {
            [OnnxExporter.VersionKey] = TesseraInfo.Version,
            ["tessera.model_type"] = config.ModelType,
            [OnnxExporter.ConfigKey] = config.ToJson(),
        };
        bool wasTraining = model.training;
        model.eval();
        try
        {
            var proto = BertEncoderGraph.Build(model, config, metadata, options.Opset, out var outputs);
            bool external = options.ExternalData ?? proto.Graph.Initializer.Sum(t => (long)t.RawData.Length) > 1_500_000_000L;
            Directory.CreateDirectory(outputDir);
            string path = Path.Combine(Path.GetFullPath(outputDir), ModelFileName);
            double? maxAbs = null;
            string? data = OnnxFileWriter.Write(proto, path, external, temp =>
            {
                if (options.Verify) maxAbs = Verify(model, config, temp, outputs, options.Tolerance);
            });
            var copied = TransformerExportFiles.Copy(config, outputDir, options.SourceFolder);
            return new EncoderExportReport(path, data, outputs, maxAbs, copied);
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    static double Verify(PreTrainedModel model, BertConfig config, string path, IReadOnlyList<string> outputs, double tolerance)
    {
        const int batch = 2, seq = 6;
        var ids = new long[batch * seq];
        var mask = new long[batch * seq];
        var types = new long[batch * seq];
        for (int i = 0; i < ids.Length; i++)
        {
            bool pad = i / seq == 1 && i % seq >= seq - 2;
            ids[i] = pad ? 0 : 1 + (i * 7919L + 13) % (config.VocabSize - 1);
            mask[i] = pad ? 0 : 1;
            types[i] = i % seq >= seq / 2 && config.TypeVocabSize > 1 ? 1 : 0;
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Device device = model.parameters().FirstOrDefault()?.device ?? CPU;
        Tensor tIds = tensor(ids, [batch, seq], device: device), tMask = tensor(mask, [batch, seq], device: device), tTypes = tensor(types, [batch, seq], device: device);
        Tensor[] expected = model switch
        {
            BertModel m => m.forward(tIds, tMask, tTypes) is var o && o.PoolerOutput is { } pooled && outputs.Count == 2 ? [o.LastHiddenState, pooled] : [o.LastHiddenState],
            BertForMaskedLM m => [m.forward(tIds, tMask, tTypes)],
            BertForSequenceClassification m => [m.forward(tIds, tMask, tTypes)],
            _ => throw new NotSupportedException(model.GetType().Name),
        };
        using OnnxModel session = OnnxRuntimeCall.Load(path, "exported encoder");
        var results = OnnxRuntimeCall.Run(session, new Dictionary<string, NamedTensor>
        {
            ["input_ids"] = new(ids, batch, seq),
            ["attention_mask"] = new(mask, batch, seq),
            ["token_type_ids"] = new(types, batch, seq),
        }, "exported encoder");
        double worst = 0;
        for (int o = 0; o < outputs.Count; o++)
        {
            using var want = expected[o].detach().cpu().to_type(ScalarType.Float32).contiguous();
            NamedTensor actual = results[outputs[o]];
            long[] shape = [.. actual.Shape];
            if (!shape.SequenceEqual(want.shape))
                throw new OnnxExportException($"{outputs[o]}: ONNX Runtime gives [{string.Join(", ", shape)}], TorchSharp [{string.Join(", ", want.shape)}]");
            float[] reference = want.data<float>().ToArray();
            float[] got = actual.AsFloats();
            for (int i = 0; i < reference.Length; i++)
            {
                double diff = Math.Abs(got[i] - reference[i]);
                worst = Math.Max(worst, double.IsNaN(diff) ? double.PositiveInfinity : diff);
            }
        }
        if (worst > tolerance) throw new OnnxExportException($"ONNX Runtime differs from TorchSharp by {worst:G4} (allowed {tolerance:G3})");
        return worst;
    }
}
