using TorchSharp;

namespace Tessera.Adapters;

/// <summary>
/// Modules by adapter name, registered as children so they appear in <c>named_parameters()</c> as <c>{container}.{adapter}.*</c>.
/// (TorchSharp's ModuleDict does not register entries added after it was itself registered, and cannot remove entries.)
/// </summary>
internal sealed class AdapterDict<T> : torch.nn.Module where T : torch.nn.Module
{
    readonly Dictionary<string, T> items = new(StringComparer.Ordinal);

    public AdapterDict() : base(nameof(AdapterDict<T>)) { }

    public T this[string name] => items[name];

    public IReadOnlyCollection<string> Keys => items.Keys;

    public bool ContainsKey(string name) => items.ContainsKey(name);

    public void Add(string name, T module)
    {
        items.Add(name, module);
        register_module(name, module);
    }

    /// <summary>Unregisters and disposes the module of <paramref name="name"/>, if any.</summary>
    public void Remove(string name)
    {
        if (!items.Remove(name, out T? module)) return;
        register_module(name, null!); // TorchSharp: registering null removes the child
        module.Dispose();
    }
}
