using Tessera.Runtime.Quantization;

namespace Tessera.Runtime.Tests.Quantization;

public class Int8WeightQuantizerTests
{
    [Fact]
    public void Scales_are_max_abs_over_127_per_output_column_with_round_half_to_even()
    {
        // [K=2, N=2]: column 0 = (1, 0.5), column 1 = (-2, 4).
        var (q, scales) = Int8WeightQuantizer.Quantize([1f, -2f, 0.5f, 4f], k: 2, n: 2, transposed: false);

        Assert.Equal([1f / 127f, 4f / 127f], scales);
        // 0.5 / (1/127) = 63.5 -> 64 (even); -2 / (4/127) = -63.5 -> -64 (even).
        Assert.Equal(new sbyte[] { 127, -64, 64, 127 }, q);
    }

    [Fact]
    public void Transposed_input_gives_the_same_result_as_its_transpose()
    {
        float[] w = ProtoModels.Random(6 * 5, seed: 9); // [K=6, N=5]
        var transposed = new float[w.Length]; // [N=5, K=6], as Gemm transB=1 stores it
        for (int k = 0; k < 6; k++)
            for (int n = 0; n < 5; n++) transposed[n * 6 + k] = w[k * 5 + n];

        var a = Int8WeightQuantizer.Quantize(w, 6, 5, transposed: false);
        var b = Int8WeightQuantizer.Quantize(transposed, 6, 5, transposed: true);

        Assert.Equal(a.Values, b.Values);
        Assert.Equal(a.Scales, b.Scales);
    }

    [Fact]
    public void Dequantized_weights_are_within_half_a_step_and_never_use_minus_128()
    {
        float[] w = ProtoModels.Random(64 * 32, seed: 4);
        var (q, scales) = Int8WeightQuantizer.Quantize(w, 64, 32, transposed: false);

        for (int i = 0; i < w.Length; i++)
        {
            float scale = scales[i % 32];
            Assert.True(Math.Abs(q[i] * scale - w[i]) <= scale / 2 * 1.0001f, $"element {i}");
            Assert.NotEqual(sbyte.MinValue, q[i]);
        }
    }

    [Fact]
    public void All_zero_column_gets_a_finite_scale_and_zeros()
    {
        var (q, scales) = Int8WeightQuantizer.Quantize([0f, 3f, 0f, -1f], 2, 2, transposed: false);

        Assert.Equal(1f, scales[0]);
        Assert.Equal(new sbyte[] { 0, 127, 0, -42 }, q);
    }

    [Fact]
    public void Non_finite_weight_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => Int8WeightQuantizer.Quantize([1f, float.NaN], 1, 2, transposed: false));
    }
}
