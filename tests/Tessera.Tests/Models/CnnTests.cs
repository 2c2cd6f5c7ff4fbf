using Tessera.Models;
using Tessera.Tests.Shared;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Models;

public class CnnTests
{
    [Fact]
    public void State_dict_has_pytorch_names_and_layouts()
    {
        using var model = new Cnn(new CnnConfig());
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        var expected = new Dictionary<string, long[]>
        {
            ["conv1.weight"] = [32, 1, 3, 3], ["conv1.bias"] = [32],
            ["conv2.weight"] = [64, 32, 3, 3], ["conv2.bias"] = [64],
            ["fc1.weight"] = [128, 3136], ["fc1.bias"] = [128],
            ["fc2.weight"] = [10, 128], ["fc2.bias"] = [10],
        };
        Assert.Equal(expected.Keys.ToArray(), shapes.Keys.ToArray());
        foreach (var (name, shape) in expected) Assert.Equal(shape, shapes[name]);
        Assert.Equal(expected.Keys, model.named_parameters().Select(p => p.name)); // all are trainable parameters
    }

    [Fact]
    public void Forward_maps_a_batch_of_images_to_logits()
    {
        using var scope = NewDisposeScope();
        using var model = new Cnn(new CnnConfig { InChannels = 3, ImageSize = 30, NumClasses = 5, Hidden = 16 });
        var y = model.call(randn(4, 3, 30, 30));
        Assert.Equal([4L, 5], y.shape);
    }

    [Trait("Category", "Slow")]
    [Theory]
    [InlineData(1, 28, 10, 128)]
    [InlineData(3, 30, 5, 16)]
    public void Eval_output_matches_pytorch_reference(int inChannels, int imageSize, int numClasses, int hidden)
    {
        Requires.Python("torch");
        using var scope = NewDisposeScope();
        random.manual_seed(1);
        var config = new CnnConfig { InChannels = inChannels, ImageSize = imageSize, NumClasses = numClasses, Hidden = hidden };
        using var model = new Cnn(config);
        var x = randn(5, inChannels, imageSize, imageSize);

        // Written from the architecture's description, not from the C# code.
        PyTorchReference.AssertEvalMatches(model, x, """
            class Cnn(nn.Module):
                def __init__(self, in_channels, image_size, num_classes, hidden):
                    super().__init__()
                    self.conv1 = nn.Conv2d(in_channels, 32, 3, padding=1)
                    self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
                    self.fc1 = nn.Linear(64 * (image_size // 4) ** 2, hidden)
                    self.fc2 = nn.Linear(hidden, num_classes)
                def forward(self, x):
                    x = F.max_pool2d(F.relu(self.conv1(x)), 2)
                    x = F.max_pool2d(F.relu(self.conv2(x)), 2)
                    x = torch.flatten(x, 1)
                    return self.fc2(F.relu(self.fc1(x)))
            """, $"Cnn({inChannels}, {imageSize}, {numClasses}, {hidden})");
    }
}
