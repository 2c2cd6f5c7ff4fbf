using System.Text.Json.Nodes;

namespace Tessera.Runtime.Tests;

public class OptimizedModelCacheTests
{
    [Fact]
    public void Cache_is_written_on_first_load_and_reused_on_the_next()
    {
        Requires.Python("onnx");
        string dir = TestModels.TempDir();
        string source = Path.Combine(dir, "mlp.onnx");
        File.Copy(TestModels.PathOf("mlp.onnx"), source);
        string cache = Path.Combine(dir, "cache", "mlp.opt.onnx");
        var options = new OnnxSessionOptions { OptimizedModelCachePath = cache, GraphOptimizationLevel = GraphOptimizationLevel.Extended };
        var input = new Dictionary<string, NamedTensor> { ["x"] = new(TestModels.Floats("mlp", "x"), 4, 64) };

        float[] first;
        using (var model = OnnxModel.Load(source, options))
        {
            Assert.False(model.LoadedFromCache);
            first = model.Run(input)["logits"].AsFloats();
        }
        Assert.True(File.Exists(cache));
        var stamp = JsonNode.Parse(File.ReadAllText(cache + ".stamp"))!;
        Assert.Equal(new FileInfo(source).Length, stamp["size"]!.GetValue<long>());
        Assert.Equal("Extended", stamp["level"]!.GetValue<string>());
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(cache)!, "*.tmp"));

        using (var model = OnnxModel.Load(source, options))
        {
            Assert.True(model.LoadedFromCache);
            Assert.Equal(source, model.Path);
            AssertClose.Equal(TestModels.Floats("mlp", "logits"), model.Run(input)["logits"].AsFloats(), 1e-4f, 1e-4f);
            AssertClose.Equal(first, model.Run(input)["logits"].AsFloats(), 1e-6f, 1e-6f);
        }

        // A touched but identical source still matches by hash.
        File.SetLastWriteTimeUtc(source, DateTime.UtcNow.AddMinutes(5));
        using (var model = OnnxModel.Load(source, options)) Assert.True(model.LoadedFromCache);

        // Another optimization level does not reuse the cache.
        using (var model = OnnxModel.Load(source, options with { GraphOptimizationLevel = GraphOptimizationLevel.Basic }))
            Assert.False(model.LoadedFromCache);
    }

    [Fact]
    public void Changed_source_rebuilds_the_cache()
    {
        Requires.Python("onnx");
        string dir = TestModels.TempDir();
        string source = Path.Combine(dir, "model.onnx");
        string cache = Path.Combine(dir, "model.opt.onnx");
        var options = new OnnxSessionOptions { OptimizedModelCachePath = cache };
        File.Copy(TestModels.PathOf("gemm_softmax.onnx"), source);
        using (OnnxModel.Load(source, options)) { }

        File.Copy(TestModels.PathOf("two_inputs.onnx"), source, overwrite: true);
        using (var model = OnnxModel.Load(source, options))
        {
            Assert.False(model.LoadedFromCache);
            Assert.Equal(["a", "ids"], model.Inputs.Select(i => i.Name));
        }
        using (var model = OnnxModel.Load(source, options))
        {
            Assert.True(model.LoadedFromCache);
            Assert.Equal(["a", "ids"], model.Inputs.Select(i => i.Name));
        }
    }

    [Fact]
    public void Corrupt_cache_is_rebuilt_instead_of_failing()
    {
        Requires.Python("onnx");
        string dir = TestModels.TempDir();
        string source = Path.Combine(dir, "model.onnx");
        string cache = Path.Combine(dir, "model.opt.onnx");
        File.Copy(TestModels.PathOf("gemm_softmax.onnx"), source);
        var options = new OnnxSessionOptions { OptimizedModelCachePath = cache };
        using (OnnxModel.Load(source, options)) { }
        File.WriteAllBytes(cache, [1, 2, 3]);
        using (var model = OnnxModel.Load(source, options)) Assert.False(model.LoadedFromCache);
        using (var model = OnnxModel.Load(source, options)) Assert.True(model.LoadedFromCache);
    }

    [Theory]
    [InlineData(GraphOptimizationLevel.None, ExecutionMode.Sequential)]
    [InlineData(GraphOptimizationLevel.Basic, ExecutionMode.Parallel)]
    [InlineData(GraphOptimizationLevel.All, ExecutionMode.Sequential)]
    public void Every_option_combination_gives_the_numpy_result(GraphOptimizationLevel level, ExecutionMode mode)
    {
        Requires.Python("onnx");
        var options = new OnnxSessionOptions { GraphOptimizationLevel = level, ExecutionMode = mode, IntraOpThreads = 1, InterOpThreads = 1 };
        using var model = OnnxModel.Load(TestModels.PathOf("mlp.onnx"), options);
        var output = model.Run(new Dictionary<string, NamedTensor> { ["x"] = new(TestModels.Floats("mlp", "x"), 4, 64) });
        AssertClose.Equal(TestModels.Floats("mlp", "logits"), output["logits"].AsFloats(), 1e-4f, 1e-4f);
    }
}
