using System.Text.Json;

namespace Tessera.Runtime.Tests;

public class ProfilingTests
{
    [Fact]
    public void Profile_file_lists_every_node_of_the_run()
    {
        Requires.Python("onnx");
        string dir = TestModels.TempDir();
        var options = new OnnxSessionOptions { ProfileFilePrefix = Path.Combine(dir, "trace") };
        var input = new Dictionary<string, NamedTensor> { ["x"] = new(TestModels.Floats("mlp", "x"), 4, 64) };
        using (var model = OnnxModel.Load(TestModels.PathOf("mlp.onnx"), options))
            model.Run(input);

        string file = Assert.Single(Directory.GetFiles(dir, "trace*.json"));
        using var trace = JsonDocument.Parse(File.ReadAllText(file));
        var events = trace.RootElement.EnumerateArray().ToList();
        Assert.Contains(events, e => e.GetProperty("name").GetString() == "model_run");
        var ops = events.Where(e => e.GetProperty("cat").GetString() == "Node" && e.TryGetProperty("args", out var a) && a.TryGetProperty("op_name", out _))
            .Select(e => e.GetProperty("args").GetProperty("op_name").GetString()).ToHashSet();
        Assert.NotEmpty(ops);
    }
}
