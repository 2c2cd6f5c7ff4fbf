using System.Reflection;
using TorchSharp;

namespace Tessera.Adapters;

/// <summary>
/// Removes a registered child or parameter from a TorchSharp module, which has no public API for it (PyTorch's
/// <c>del module.name</c>).
/// </summary>
internal static class ModuleSurgery
{
    static readonly FieldInfo Submodules = Field("_internal_submodules");
    static readonly FieldInfo Parameters = Field("_internal_params");

    public static void Remove(torch.nn.Module parent, string name) => RemoveFrom(Submodules.GetValue(parent)!, name);

    public static void RemoveParameter(torch.nn.Module parent, string name) => RemoveFrom(Parameters.GetValue(parent)!, name);

    static FieldInfo Field(string name) => typeof(torch.nn.Module).GetField(name, BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new MissingFieldException($"TorchSharp.Module.{name} not found; this TorchSharp version is not supported by Tessera.Adapters");

    static void RemoveFrom(object dict, string name)
    {
        MethodInfo remove = dict.GetType().GetMethod("Remove", [typeof(string)])
            ?? throw new MissingMethodException($"{dict.GetType().Name}.Remove(string) not found");
        remove.Invoke(dict, [name]);
    }
}
