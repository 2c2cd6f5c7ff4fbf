namespace Tessera.Tests.Export;

/// <summary>Export verification runs ONNX Runtime through Tessera.Runtime, so Tessera itself does not compile against ONNX Runtime.</summary>
public class OnnxRuntimeDependencyTests
{
    [Fact]
    public void Tessera_references_Tessera_Runtime_and_no_OnnxRuntime_assembly()
    {
        var references = typeof(Tessera.Export.OnnxExporter).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.Contains("Tessera.Runtime", references);
        Assert.Contains("Tessera.Text", references);
        Assert.DoesNotContain(references, n => n!.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal));
    }
}
