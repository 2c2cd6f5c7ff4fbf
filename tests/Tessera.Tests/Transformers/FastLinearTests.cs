using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Transformers;

public class FastLinearTests
{
    [Fact]
    public void Has_nn_Linears_parameter_names_and_shapes()
    {
        using var ours = new FastLinear(5, 3);
        using var theirs = nn.Linear(5, 3);
        Assert.Equal(theirs.state_dict().Select(kv => (kv.Key, string.Join("x", kv.Value.shape))), ours.state_dict().Select(kv => (kv.Key, string.Join("x", kv.Value.shape))));
        using var noBias = new FastLinear(5, 3, hasBias: false);
        Assert.Equal(["weight"], noBias.state_dict().Keys);
    }

    [Theory]
    [InlineData(1)] // one row: the decode kernel where it applies
    [InlineData(4)] // several rows: libtorch
    public void Matches_functional_linear_with_and_without_grad(int rows)
    {
        manual_seed(7);
        using var layer = new FastLinear(48, 40);
        using var x = randn(1, rows, 48);
        using var expected = nn.functional.linear(x, layer.Weight, layer.Bias).detach();
        using (no_grad())
        {
            using var actual = layer.call(x);
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-5));
        }
        using var y = layer.call(x);
        Assert.True(y.requires_grad);
        y.sum().backward();
        Assert.NotNull(layer.Weight.grad);
    }

    [Fact]
    public void Forward_hooks_see_calls_that_the_kernel_computes()
    {
        manual_seed(8);
        using var layer = new FastLinear(32, 16);
        using var x = randn(1, 32);
        int seen = 0;
        var remover = layer.register_forward_hook((m, input, output) => { seen++; return output + 1; });
        using (no_grad())
        {
            using var expected = nn.functional.linear(x, layer.Weight, layer.Bias) + 1;
            using var actual = layer.call(x);
            Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-5));
        }
        Assert.Equal(1, seen);
        remover.remove();
    }

    [Fact]
    public void Moving_to_another_dtype_moves_the_parameters_it_computes_with()
    {
        manual_seed(9);
        using var layer = new FastLinear(6, 4);
        layer.to(ScalarType.Float64);
        Assert.Equal(ScalarType.Float64, layer.Weight.dtype);
        using var x = randn(1, 6, dtype: ScalarType.Float64);
        using var y = layer.call(x);
        Assert.Equal(ScalarType.Float64, y.dtype);
        using var expected = nn.functional.linear(x, layer.Weight, layer.Bias);
        Assert.True(y.allclose(expected));
    }
}
