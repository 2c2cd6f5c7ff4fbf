namespace Tessera.Runtime.Tests;

public class OnnxModelRunTests
{
    static Dictionary<string, NamedTensor> Gemm(float[] x, params long[] shape) => new() { ["x"] = new NamedTensor(x, shape) };

    [Fact]
    public void Run_gemm_softmax_matches_numpy_for_several_batch_sizes()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("gemm_softmax.onnx"));
        float[] x = TestModels.Floats("gemm_softmax", "x");
        float[] probs = TestModels.Floats("gemm_softmax", "probs");

        var all = model.Run(Gemm(x, 5, 4));
        Assert.Equal([5L, 3], all["probs"].Shape);
        AssertClose.Equal(probs, all["probs"].AsFloats());

        var one = model.Run(Gemm(x[4..8], 1, 4)); // second row alone: the symbolic batch takes 1
        AssertClose.Equal(probs.AsSpan(3, 3), one["probs"].AsFloats());
    }

    [Fact]
    public void Run_two_inputs_of_different_dtypes_matches_numpy()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("two_inputs.onnx"));
        var outputs = model.Run(new Dictionary<string, NamedTensor>
        {
            ["ids"] = new(TestModels.Longs("two_inputs", "ids"), 3, 2),
            ["a"] = new(TestModels.Floats("two_inputs", "a"), 3, 3),
        });
        AssertClose.Equal(TestModels.Floats("two_inputs", "y"), outputs["y"].AsFloats());
        Assert.Equal(TestModels.Longs("two_inputs", "n"), outputs["n"].AsInt64s());
        Assert.Equal(TensorDataType.Int64, outputs["n"].DataType);
    }

    static ArgumentException BadRun(OnnxModel model, Dictionary<string, NamedTensor> inputs)
    {
        var e = Assert.Throws<ArgumentException>(() => model.Run(inputs));
        // Every error lists all of the model's inputs with dtype and shape.
        Assert.Contains("The model expects: a: float[batch,3], ids: int64[batch,2]", e.Message);
        return e;
    }

    [Fact]
    public void Run_missing_input_names_it()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("two_inputs.onnx"));
        var e = BadRun(model, new() { ["a"] = new(new float[3], 1, 3) });
        Assert.Equal("ids", e.ParamName);
        Assert.Contains("input 'ids' is missing", e.Message);
    }

    [Fact]
    public void Run_extra_input_names_it()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("two_inputs.onnx"));
        var e = BadRun(model, new()
        {
            ["a"] = new(new float[3], 1, 3), ["ids"] = new(new long[2], 1, 2), ["mask"] = new(new long[2], 1, 2),
        });
        Assert.Equal("mask", e.ParamName);
        Assert.Contains("input 'mask' is not an input of the model", e.Message);
    }

    [Fact]
    public void Run_wrong_rank_names_input_and_expected_shape()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("two_inputs.onnx"));
        var e = BadRun(model, new() { ["a"] = new(new float[3], 3), ["ids"] = new(new long[2], 1, 2) });
        Assert.Equal("a", e.ParamName);
        Assert.Contains("input 'a' has rank 1 (shape [3]) but the model expects rank 2 (float[batch,3])", e.Message);
    }

    [Fact]
    public void Run_wrong_fixed_dim_names_input_and_dimension()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("two_inputs.onnx"));
        var e = BadRun(model, new() { ["a"] = new(new float[4], 1, 4), ["ids"] = new(new long[2], 1, 2) });
        Assert.Equal("a", e.ParamName);
        Assert.Contains("input 'a' has size 4 in dimension 1", e.Message);
    }

    [Fact]
    public void Run_wrong_dtype_names_input_and_expected_dtype()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("two_inputs.onnx"));
        var e = BadRun(model, new() { ["a"] = new(new float[3], 1, 3), ["ids"] = new(new int[2], 1, 2) });
        Assert.Equal("ids", e.ParamName);
        Assert.Contains("input 'ids' has dtype int32 but the model expects int64", e.Message);
    }

    [Fact]
    public void Run_inputs_disagreeing_on_a_symbolic_dim_are_rejected()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("two_inputs.onnx"));
        var e = BadRun(model, new() { ["a"] = new(new float[6], 2, 3), ["ids"] = new(new long[2], 1, 2) });
        Assert.Contains("input 'ids' has batch=1 but input 'a' has batch=2", e.Message);
    }

    [Fact]
    public void Run_several_problems_are_reported_together()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("two_inputs.onnx"));
        var e = BadRun(model, new() { ["a"] = new(new long[3], 1, 3), ["x"] = new(new float[1], 1) });
        Assert.Contains("input 'a' has dtype int64", e.Message);
        Assert.Contains("input 'ids' is missing", e.Message);
        Assert.Contains("input 'x' is not an input", e.Message);
    }

    [Fact]
    public void NamedTensor_rejects_a_shape_that_does_not_fit_its_data()
    {
        var e = Assert.Throws<ArgumentException>(() => new NamedTensor(new float[5], 2, 3));
        Assert.Contains("6 elements but the array has 5", e.Message);
    }

    [Fact]
    public void Concurrent_runs_from_several_threads_match_sequential_runs()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("mlp.onnx"), new OnnxSessionOptions { IntraOpThreads = 1 });
        var rng = new Random(5);
        var inputs = Enumerable.Range(0, 32).Select(i =>
        {
            int batch = 1 + i % 4;
            return new NamedTensor(Enumerable.Range(0, batch * 64).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), batch, 64);
        }).ToArray();
        var sequential = inputs.Select(x => model.Run(new Dictionary<string, NamedTensor> { ["x"] = x })["logits"].AsFloats()).ToArray();

        var concurrent = new float[inputs.Length][];
        var images = inputs.Select(x => x.AsFloats()).ToArray();
        var imageResults = new float[inputs.Length][];
        Parallel.For(0, inputs.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, j =>
        {
            int i = j % inputs.Length;
            var result = model.Run(new Dictionary<string, NamedTensor> { ["x"] = inputs[i] })["logits"].AsFloats();
            if (j >= inputs.Length * 3) concurrent[i] = result;
            // The image path rents pooled buffers: concurrent callers must not share them.
            var probs = model.PredictProbabilities(images[i], (int)inputs[i].Shape[0], 1, 1, 64);
            if (j >= inputs.Length * 3) imageResults[i] = probs.SelectMany(p => p).ToArray();
        });

        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.Equal(sequential[i], concurrent[i]);
            var softmaxed = sequential[i].Chunk(10).SelectMany(row =>
            {
                float max = row.Max();
                var e = row.Select(v => MathF.Exp(v - max)).ToArray();
                float sum = e.Sum();
                return e.Select(v => v / sum);
            }).ToArray();
            AssertClose.Equal(softmaxed, imageResults[i], 1e-6f, 1e-5f);
        }
    }
}
