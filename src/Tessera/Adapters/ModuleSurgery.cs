using System.Collections;
using System.Reflection;
using TorchSharp;

namespace Tessera.Adapters;

/// <summary>Removes a registered child from a TorchSharp module, which has no public API for it (PyTorch's <c>del module.name</c>).</summary>
internal static class ModuleSurgery
{
    static readonly FieldInfo Submodules = typeof(torch.nn.Module).GetField("_internal_submodules", BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new MissingFieldException("TorchSharp.Module._internal_submodules not found; this TorchSharp version is not supported by Tessera.Adapters");

    public static void Remove(torch.nn.Module parent, string name)
    {
        object dict = Submodules.GetValue(parent)!;
        MethodInfo remove = dict.GetType().GetMethod("Remove", [typeof(string)])
            ?? throw new MissingMethodException($"{dict.GetType().Name}.Remove(string) not found");
        remove.Invoke(dict, [name]);
    }
}
