// TEMPORARY stub until the formats branch lands.
using TorchSharp;
using static TorchSharp.torch;
namespace Tessera.Checkpoints;
/// <summary>stub</summary>
public static class SafeTensorsTorch
{
    /// <summary>stub</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null) => throw new NotImplementedException();
    /// <summary>stub</summary>
    public static void LoadInto(nn.Module module, string path, bool strict = true) => throw new NotImplementedException();
}
