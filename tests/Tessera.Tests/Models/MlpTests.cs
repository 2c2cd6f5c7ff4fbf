using Tessera.Models;
using Tessera.Tests.Shared;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Models;

public class MlpTests
{
    [Fact]
    public void State_dict_names_index_the_linear_layers_in_order()
    {
        using var model = new Mlp(new MlpConfig { InputSize = 784, HiddenSizes = [256, 128], NumClasses = 10, Dropout = 0.5 });
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        var expected = new Dictionary<string, long[]>
        {
            ["layers.0.weight"] = [256, 784], ["layers.0.bias"] = [256],
            ["layers.1.weight"] = [128, 256], ["layers.1.bias"] = [128],
            ["layers.2.weight"] = [10, 128], ["layers.2.bias"] = [10],
        };
        Assert.Equal(expected.Keys.ToArray(), shapes.Keys.ToArray());
        foreach (var (name, shape) in expected) Assert.Equal(shape, shapes[name]);
    }

    [Fact]
    public void No_hidden_layers_gives_a_single_linear_layer()
    {
        using var model = new Mlp(new MlpConfig { InputSize = 12, HiddenSizes = [], NumClasses = 3 });
        Assert.Equal(["layers.0.weight", "layers.0.bias"], model.state_dict().Keys.ToArray());
    }

    [Fact]
    public void Dropout_is_active_in_training_and_off_in_eval()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        using var model = new Mlp(new MlpConfig { InputSize = 16, HiddenSizes = [64], NumClasses = 4, Dropout = 0.5 });
        var x = randn(8, 16);
        using (no_grad())
        {
            model.eval();
            var a = model.call(x);
            var b = model.call(x);
            Assert.True(a.allclose(b, rtol: 0, atol: 0));
            model.train();
            var c = model.call(x);
            Assert.False(a.allclose(c));
        }
    }

    [Trait("Category", "Slow")]
    [Theory]
    [InlineData(new[] { 256, 128 }, 0.2)]
    [InlineData(new int[0], 0.0)]
    [InlineData(new[] { 7, 5, 3 }, 0.0)]
    public void Eval_output_matches_pytorch_reference(int[] hidden, double dropout)
    {
        Requires.Python("torch");
        using var scope = NewDisposeScope();
        random.manual_seed(2);
        using var model = new Mlp(new MlpConfig { InputSize = 784, HiddenSizes = hidden, NumClasses = 10, Dropout = dropout });
        var x = randn(6, 1, 28, 28); // images: the model flattens them

        PyTorchReference.AssertEvalMatches(model, x, """
            class Mlp(nn.Module):
                def __init__(self, input_size, hidden_sizes, num_classes, dropout):
                    super().__init__()
                    sizes = [input_size] + hidden_sizes + [num_classes]
                    self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
                    self.dropout = nn.Dropout(dropout)
                def forward(self, x):
                    x = torch.flatten(x, 1)
                    for layer in self.layers[:-1]:
                        x = self.dropout(F.relu(layer(x)))
                    return self.layers[-1](x)
            """, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Mlp(784, [{string.Join(", ", hidden)}], 10, {dropout})"));
    }
}
