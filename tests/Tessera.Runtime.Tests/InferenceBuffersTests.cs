namespace Tessera.Runtime.Tests;

public class InferenceBuffersTests
{
    [Fact]
    public void Buffers_give_the_same_outputs_as_Run_and_follow_new_input_values()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("mlp.onnx"));
        float[] x = TestModels.Floats("mlp", "x");
        using var buffers = model.CreateBuffers(new Dictionary<string, long[]> { ["x"] = [4, 64] });
        Assert.False(buffers.HasOutputs);
        Assert.Throws<InvalidOperationException>(() => buffers.Output<float>("logits").ToArray());

        x.CopyTo(buffers.Input<float>("x"));
        buffers.Run();
        Assert.Equal([4L, 10], buffers.OutputShape("logits"));
        AssertClose.Equal(TestModels.Floats("mlp", "logits"), buffers.Output<float>("logits"), 1e-4f, 1e-4f);

        // Second run with other values lands in the same pinned output array.
        var doubled = x.Select(v => 2 * v).ToArray();
        doubled.CopyTo(buffers.Input<float>("x"));
        buffers.Run();
        var reference = model.Run(new Dictionary<string, NamedTensor> { ["x"] = new(doubled, 4, 64) })["logits"].AsFloats();
        AssertClose.Equal(reference, buffers.Output<float>("logits"), 1e-6f, 1e-6f);
    }

    [Fact]
    public void Buffers_handle_integer_inputs_and_outputs()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("two_inputs.onnx"));
        using var buffers = model.CreateBuffers(new Dictionary<string, long[]> { ["a"] = [3, 3], ["ids"] = [3, 2] });
        TestModels.Floats("two_inputs", "a").CopyTo(buffers.Input<float>("a"));
        TestModels.Longs("two_inputs", "ids").CopyTo(buffers.Input<long>("ids"));
        buffers.Run();
        Assert.Equal(TestModels.Longs("two_inputs", "n"), buffers.Output<long>("n").ToArray());
        AssertClose.Equal(TestModels.Floats("two_inputs", "y"), buffers.Output<float>("y"));
        Assert.Throws<ArgumentException>(() => buffers.Input<int>("ids").Length);
    }

    [Fact]
    public void CreateBuffers_rejects_shapes_that_do_not_fit()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("two_inputs.onnx"));
        var e = Assert.Throws<ArgumentException>(() => model.CreateBuffers(new Dictionary<string, long[]> { ["a"] = [3, 4] }));
        Assert.Contains("does not fit input a: float[batch,3]", e.Message);
        Assert.Contains("no shape for input 'ids'", e.Message);
    }

    [Fact]
    public void Repeated_buffer_runs_do_not_allocate_managed_memory()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("mlp.onnx"), new OnnxSessionOptions { IntraOpThreads = 1 });
        using var buffers = model.CreateBuffers(new Dictionary<string, long[]> { ["x"] = [8, 64] });
        buffers.Input<float>("x").Fill(0.1f);
        for (int i = 0; i < 5; i++) buffers.Run();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) buffers.Run();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Bound: under 64 bytes a run (measured here: 0 bytes for all 100 runs).
        Assert.True(allocated < 100 * 64, $"100 buffered runs allocated {allocated} bytes");
    }

    [Fact]
    public void Repeated_image_predictions_allocate_little_more_than_the_results()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("image_meta.onnx"), new OnnxSessionOptions { IntraOpThreads = 1 });
        var pixels = new float[16];
        for (int i = 0; i < 5; i++) model.PredictProbabilities(pixels, 4, 4, 1);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) model.PredictProbabilities(pixels, 4, 4, 1);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Each call returns a float[3] inside a float[1][] (measured here: 72 bytes a call): bound at 256 bytes a call.
        Assert.True(allocated < 100 * 256, $"100 predictions allocated {allocated} bytes");
    }
}
