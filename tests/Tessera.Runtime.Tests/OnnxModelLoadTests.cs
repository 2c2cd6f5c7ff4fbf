namespace Tessera.Runtime.Tests;

public class OnnxModelLoadTests
{
    [Fact]
    public void Load_describes_inputs_and_outputs_with_symbolic_batch()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("two_inputs.onnx"));

        Assert.Equal(["a", "ids"], model.Inputs.Select(i => i.Name));
        Assert.Equal(TensorDataType.Float32, model.Inputs[0].DataType);
        Assert.Equal(TensorDataType.Int64, model.Inputs[1].DataType);
        Assert.Equal([-1L, 3], model.Inputs[0].Dims);
        Assert.Equal(["batch", null], model.Inputs[0].DimNames);
        Assert.Equal("a: float[batch,3]", model.Inputs[0].ToString());
        Assert.Equal("ids: int64[batch,2]", model.Inputs[1].ToString());
        Assert.Equal(["y", "n"], model.Outputs.Select(o => o.Name));
        Assert.Equal(TensorDataType.Int64, model.Outputs[1].DataType);
        Assert.Null(model.Preprocessing);
        Assert.Empty(model.Labels);
    }

    [Fact]
    public void Load_fixed_shape_model_has_no_dynamic_dims()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("fixed.onnx"));
        Assert.Equal([2L, 4], model.Inputs[0].Dims);
        Assert.False(model.Inputs[0].IsDynamic(0));
        Assert.Equal("x: float[2,4]", model.Inputs[0].ToString());
    }

    [Fact]
    public void Load_missing_file_names_it()
    {
        string path = Path.Combine(Path.GetTempPath(), $"no-such-model-{Guid.NewGuid():N}.onnx");
        var e = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(path));
        Assert.Equal(path, e.FilePath);
        Assert.Contains(path, e.Message);
        Assert.Contains("not found", e.Message);
        Assert.IsType<FileNotFoundException>(e.InnerException);
    }

    [Theory]
    [InlineData("truncated.onnx")]
    [InlineData("random.onnx")]
    public void Load_truncated_or_non_onnx_file_names_it(string name)
    {
        Requires.Python("onnx");
        string path = TestModels.PathOf(name);
        var e = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not a valid ONNX model", e.Message);
        Assert.IsType<Microsoft.ML.OnnxRuntime.OnnxRuntimeException>(e.InnerException);
    }

    [Fact]
    public void Load_empty_file_names_it()
    {
        string path = Path.Combine(TestModels.TempDir(), "empty.onnx");
        File.WriteAllBytes(path, []);
        var e = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Load_model_with_unknown_operator_names_the_operator()
    {
        Requires.Python("onnx");
        string path = TestModels.PathOf("nosuchop.onnx");
        var e = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("operator 'NoSuchOp' is not implemented by this ONNX Runtime", e.Message);
    }

    [Fact]
    public void Load_model_with_opset_99_names_the_opset()
    {
        Requires.Python("onnx");
        string path = TestModels.PathOf("opset99.onnx");
        var e = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("ai.onnx 99", e.Message);
    }

    [Fact]
    public void Load_folder_without_model_onnx_says_so()
    {
        string dir = TestModels.TempDir();
        var e = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(dir));
        Assert.Contains(dir, e.Message);
        Assert.Contains("model.onnx", e.Message);
    }

    [Fact]
    public void Load_reads_preprocessing_and_labels_from_metadata_props()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("image_meta.onnx"));
        Assert.Equal(["cat", "dog", "bird"], model.Labels);
        Assert.NotNull(model.Preprocessing);
        Assert.Equal(4, model.Preprocessing!.Height);
        Assert.Equal([0.5f], model.Preprocessing.Mean);
        Assert.Equal([0.25f], model.Preprocessing.Std);
        Assert.Equal("0.1.0", model.Metadata["tessera.version"]);
    }

    [Fact]
    public void Load_folder_files_take_precedence_over_metadata()
    {
        Requires.Python("onnx");
        using var model = OnnxModel.Load(TestModels.PathOf("image_folder"));
        Assert.Equal(Path.Combine(TestModels.PathOf("image_folder"), "model.onnx"), model.Path);
        Assert.Equal(["shirt", "shoe", "bag"], model.Labels);
        Assert.True(model.Preprocessing!.Invert);
        Assert.Equal([0.25f], model.Preprocessing.Mean);
    }

    [Fact]
    public void Load_folder_with_malformed_preprocessing_names_the_file()
    {
        Requires.Python("onnx");
        string dir = TestModels.TempDir();
        File.Copy(TestModels.PathOf("image_softmax.onnx"), Path.Combine(dir, "model.onnx"));
        string pre = Path.Combine(dir, "preprocessor_config.json");
        File.WriteAllText(pre, "{\"height\": 4, \"image_std\": [0]}");
        var e = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(dir));
        Assert.Contains(pre, e.Message);
        Assert.Contains("image_std", e.Message);
    }
}
