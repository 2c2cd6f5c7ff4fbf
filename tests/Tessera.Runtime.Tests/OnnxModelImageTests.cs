namespace Tessera.Runtime.Tests;

public class OnnxModelImageTests
{
    [Fact]
    public void PredictProbabilities_normalizes_with_metadata_preprocessing_and_softmaxes_logits()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("image_meta.onnx"));
        float[] pixels = TestModels.Floats("image_meta", "pixels");
        float[] expected = TestModels.Floats("image_meta", "probs");

        var batch = model.PredictProbabilities(pixels, 6, 4, 4, 1);
        AssertClose.Equal(expected, batch.SelectMany(r => r).ToArray(), 1e-6f, 1e-5f);

        var single = model.PredictProbabilities(pixels[16..32], 4, 4, 1);
        AssertClose.Equal(expected.AsSpan(3, 3), single, 1e-6f, 1e-5f);
    }

    [Fact]
    public void PredictProbabilities_of_bytes_rescales_by_the_config_factor()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("image_meta.onnx"));
        byte[] raw = Enumerable.Range(0, 32).Select(i => (byte)(i * 8)).ToArray();
        var fromBytes = model.PredictProbabilities(raw, 2, 4, 4, 1);
        var fromFloats = model.PredictProbabilities(raw.Select(b => b / 255f).ToArray(), 2, 4, 4, 1);
        for (int i = 0; i < 2; i++) AssertClose.Equal(fromFloats[i], fromBytes[i], 1e-6f, 1e-5f);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void PredictProbabilities_resizes_a_larger_image_like_torch_before_normalizing()
    {
        Requires.Python("onnx", "torch");
        using var model = OnnxModel.Load(TestModels.PathOf("image_meta.onnx"));
        var rng = new Random(11);
        float[] big = Enumerable.Range(0, 8 * 8).Select(_ => (float)rng.NextDouble()).ToArray();
        // Reference: torch bilinear resize to 4x4, then the numpy-verified 4x4 path.
        string script = Path.Combine(TestModels.TempDir(), "resize.py");
        File.WriteAllText(script, """
            import sys, torch
            import torch.nn.functional as F
            x = torch.tensor([float(v) for v in sys.argv[1].split(',')]).reshape(1, 1, 8, 8)
            print(','.join(repr(float(v)) for v in F.interpolate(x, size=(4, 4), mode='bilinear', align_corners=False).flatten()))
            """);
        string? output = TestModels.RunPython(script, out string error, string.Join(",", big.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
        Assert.True(output is not null, error);
        float[] small = output!.Trim().Split(',').Select(s => float.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        AssertClose.Equal(model.PredictProbabilities(small, 4, 4, 1), model.PredictProbabilities(big, 8, 8, 1), 1e-6f, 1e-5f);
    }

    [Fact]
    public void PredictProbabilities_keeps_outputs_that_already_are_probabilities()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("image_softmax.onnx"));
        var probs = model.PredictProbabilities(TestModels.Floats("image_meta", "pixels"), 6, 4, 4, 1);
        AssertClose.Equal(TestModels.Floats("image_softmax", "probs"), probs.SelectMany(r => r).ToArray(), 1e-6f, 1e-5f);
    }

    [Fact]
    public void Classify_folder_model_returns_top_k_labels_from_config()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("image_folder"));
        float[] pixels = TestModels.Floats("image_meta", "pixels");
        float[] expected = TestModels.Floats("image_folder", "probs");
        string[] names = ["shirt", "shoe", "bag"];

        var results = model.ClassifyBatch(pixels, 6, topK: 2);
        for (int i = 0; i < 6; i++)
        {
            var row = expected.AsSpan(i * 3, 3).ToArray();
            var order = Enumerable.Range(0, 3).OrderByDescending(k => row[k]).ToArray();
            Assert.Equal(2, results[i].Count);
            Assert.Equal([names[order[0]], names[order[1]]], results[i].Select(r => r.Label));
            Assert.Equal(row[order[0]], results[i][0].Probability, 1e-5f);
            Assert.Equal(row[order[1]], results[i][1].Probability, 1e-5f);
        }
        var one = model.Classify(pixels.AsSpan(0, 16), topK: 5);
        Assert.Equal(3, one.Count); // top-k is capped at the number of classes
        Assert.Equal(1f, one.Sum(r => r.Probability), 1e-5f);
    }

    [Fact]
    public void Classify_without_labels_uses_class_indices()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("image_softmax.onnx"));
        var top = model.Classify(TestModels.Floats("image_meta", "pixels").AsSpan(0, 16), 3);
        Assert.All(top, t => Assert.Contains(t.Label, new[] { "0", "1", "2" }));
    }

    [Fact]
    public void PredictProbabilities_rejects_wrong_channels_and_pixel_counts()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("image_meta.onnx"));
        var e = Assert.Throws<ArgumentException>(() => model.PredictProbabilities(new float[48], 4, 4, 3));
        Assert.Contains("3 channel(s) but the model takes 1", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.PredictProbabilities(new float[15], 4, 4, 1));
        Assert.Contains("not 1 image(s) of 1x4x4", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Classify(new float[20], 1));
        Assert.Contains("as the model takes", e.Message);
    }

    [Fact]
    public void Image_methods_refuse_a_model_with_two_inputs()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("two_inputs.onnx"));
        var e = Assert.Throws<OnnxModelException>(() => model.PredictProbabilities(new float[3], 1, 1, 3));
        Assert.Contains("one float input", e.Message);
    }

    [Fact]
    public void Fixed_batch_model_is_run_in_chunks()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("fixed.onnx")); // Relu on [2,4]
        float[] x = [-1, 2, -3, 4, 5, -6, 7, -8, 9, 10, -11, 12];
        var rows = model.PredictProbabilities(x, 3, 1, 1, 4);
        Assert.Equal(3, rows.Length);
        for (int i = 0; i < 3; i++)
        {
            var relu = x.Skip(4 * i).Take(4).Select(v => MathF.Max(v, 0)).ToArray();
            float max = relu.Max();
            var e = relu.Select(v => MathF.Exp(v - max)).ToArray();
            AssertClose.Equal(e.Select(v => v / e.Sum()).ToArray(), rows[i]);
        }
    }
}
