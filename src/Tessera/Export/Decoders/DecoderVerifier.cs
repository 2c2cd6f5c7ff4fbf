using Tessera.Runtime;
using Tessera.Runtime.Generation;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Export.Decoders;

/// <summary>
/// Runs an exported decoder in ONNX Runtime beside the TorchSharp model: a prefill of a left-padded batch of two
/// (no past), then one decode step fed the presents, comparing logits (on real tokens) and present keys/values.
/// </summary>
internal static class DecoderVerifier
{
    /// <summary>Returns the largest differences of the prefill and the decode step.</summary>
    /// <exception cref="OnnxExportException">ONNX Runtime rejects the model, or a difference exceeds <paramref name="tolerance"/>.</exception>
    public static (double Prefill, double Decode) Verify(CausalLanguageModel model, string modelPath, int kvHeads, int headDim, double tolerance)
    {
        const int batch = 2, seq = 5;
        int vocab = model.VocabSize, layers = model.NumLayers;
        var ids = new long[batch * seq];
        var mask = new long[batch * seq];
        for (int i = 0; i < ids.Length; i++)
        {
            bool pad = i / seq == 1 && i % seq < 2;
            ids[i] = pad ? 0 : 1 + (i * 7919L + 13) % (vocab - 1);
            mask[i] = pad ? 0 : 1;
        }
        long[] next = [1 + 31 % (vocab - 1), 1 + 57 % (vocab - 1)];
        long[] mask2 = new long[batch * (seq + 1)];
        for (int r = 0; r < batch; r++)
        {
            Array.Copy(mask, r * seq, mask2, r * (seq + 1), seq);
            mask2[r * (seq + 1) + seq] = 1;
        }

        using OnnxModel session = OnnxRuntimeCall.Load(modelPath, "exported decoder");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var cache = new KeyValueCache(layers);

        var past = Enumerable.Range(0, 2 * layers).Select(_ => new NamedTensor(Array.Empty<float>(), batch, kvHeads, 0, headDim)).ToArray();
        double prefill = Step(model, session, ids, mask, batch, seq, past, cache, tolerance, "prefill");
        double decode = Step(model, session, next, mask2, batch, 1, past, cache, tolerance, "decode step");
        return (prefill, decode);
    }

    /// <summary>One forward in both; <paramref name="past"/> is replaced by ONNX Runtime's presents.</summary>
    static double Step(CausalLanguageModel model, OnnxModel session, long[] ids, long[] mask, int batch, int seq,
        NamedTensor[] past, KeyValueCache cache, double tolerance, string what)
    {
        int total = mask.Length / batch, layers = model.NumLayers;
        Device device = model.parameters().FirstOrDefault()?.device ?? CPU;
        var output = model.forward(tensor(ids, [batch, seq], device: device), tensor(mask, [batch, total], device: device), cache, useCache: true);

        var inputs = new Dictionary<string, NamedTensor>
        {
            ["input_ids"] = new(ids, batch, seq),
            ["attention_mask"] = new(mask, batch, total),
            ["position_ids"] = new(OrtCausalLM.PositionIds(mask, batch, total, seq), batch, seq),
        };
        for (int i = 0; i < layers; i++)
        {
            inputs[$"past_key_values.{i}.key"] = past[2 * i];
            inputs[$"past_key_values.{i}.value"] = past[2 * i + 1];
        }
        var results = OnnxRuntimeCall.Run(session, inputs, $"{what} of the exported decoder");
        var tokenMask = new bool[batch * seq];
        for (int r = 0; r < batch; r++)
            for (int t = 0; t < seq; t++) tokenMask[r * seq + t] = mask[r * total + total - seq + t] != 0;
        double worst = Compare(output.Logits, results["logits"], tokenMask, what, "logits");
        for (int i = 0; i < layers; i++)
        {
            past[2 * i] = results[$"present.{i}.key"];
            past[2 * i + 1] = results[$"present.{i}.value"];
            worst = Math.Max(worst, Compare(cache.Keys(i)!, past[2 * i], null, what, $"present.{i}.key"));
            worst = Math.Max(worst, Compare(cache.Values(i)!, past[2 * i + 1], null, what, $"present.{i}.value"));
        }
        if (worst > tolerance)
            throw new OnnxExportException($"ONNX Runtime differs from TorchSharp by {worst:G4} on the {what} (allowed {tolerance:G3})");
        return worst;
    }

    static double Compare(Tensor expected, NamedTensor actual, bool[]? rowMask, string what, string name)
    {
        using var want = expected.detach().cpu().to_type(ScalarType.Float32).contiguous();
        long[] shape = [.. actual.Shape];
        if (!shape.SequenceEqual(want.shape))
            throw new OnnxExportException($"{name} on the {what}: ONNX Runtime gives [{string.Join(", ", shape)}], TorchSharp [{string.Join(", ", want.shape)}]");
        float[] got = actual.AsFloats();
        float[] reference = want.data<float>().ToArray();
        int rowLength = rowMask is null ? 1 : reference.Length / rowMask.Length;
        double worst = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            if (rowMask is not null && !rowMask[i / rowLength]) continue;
            double d = Math.Abs(got[i] - reference[i]);
            if (double.IsNaN(d)) d = double.PositiveInfinity;
            worst = Math.Max(worst, d);
        }
        return worst;
    }
}
