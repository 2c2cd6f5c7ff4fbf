using System.Text.Json;

namespace Tessera.Formats.Tests;

public class ImagePreprocessingConfigTests
{
    [Theory]
    [InlineData("""{"height": 100000, "width": 28}""", "height 100000 is larger than 16384")]
    [InlineData("""{"height": 28, "width": 2147483647}""", "width 2147483647 is larger than 16384")]
    [InlineData("""{"num_channels": 100000, "image_mean": [], "image_std": []}""", "num_channels 100000 is more than 64")]
    public void Sizes_that_would_overflow_an_image_buffer_are_refused_naming_the_field(string json, string expected)
    {
        var e = Assert.Throws<JsonException>(() => ImagePreprocessingConfig.FromJson(json));
        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void The_largest_accepted_sizes_still_load()
    {
        var config = ImagePreprocessingConfig.FromJson("""{"height": 16384, "width": 16384, "num_channels": 3, "image_mean": [0.5], "image_std": [0.5]}""");
        Assert.Equal(16384, config.Height);
    }
}
