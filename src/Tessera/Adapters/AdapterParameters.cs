using TorchSharp;
using TorchSharp.Modules;

namespace Tessera.Adapters;

/// <summary>
/// Parameters by adapter name (PEFT's <c>nn.ParameterDict</c>), registered directly so they appear in
/// <c>named_parameters()</c> as <c>{container}.{adapter}</c>, without a <c>.weight</c> suffix.
/// </summary>
internal sealed class AdapterParameters : torch.nn.Module
{
    // Names only: moving the module to another device replaces the Parameter objects, so they are looked up each time.
    readonly HashSet<string> names = new(StringComparer.Ordinal);

    public AdapterParameters() : base(nameof(AdapterParameters)) { }

    public Parameter this[string name] => names.Contains(name)
        ? named_parameters(recurse: false).First(p => p.name == name).parameter
        : throw new KeyNotFoundException($"no adapter parameter \"{name}\"");

    public bool ContainsKey(string name) => names.Contains(name);

    public void Add(string name, Parameter parameter)
    {
        if (!names.Add(name)) throw new ArgumentException($"adapter parameter \"{name}\" already exists", nameof(name));
        register_parameter(name, parameter);
    }

    /// <summary>Unregisters and disposes the parameter of <paramref name="name"/>, if any.</summary>
    public void Remove(string name)
    {
        if (!names.Contains(name)) return;
        Parameter parameter = this[name];
        names.Remove(name);
        _internal_params.Remove(name); // our own subclass: TorchSharp's protected registry (register_parameter refuses null)
        parameter.Dispose();
    }
}
