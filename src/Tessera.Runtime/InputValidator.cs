namespace Tessera.Runtime;

/// <summary>Checks named inputs against a model's input specs before ONNX Runtime sees them, so a mistake gets one clear error.</summary>
internal static class InputValidator
{
    /// <summary>Throws one <see cref="ArgumentException"/> listing every problem and the model's expected inputs.</summary>
    public static void Validate(IReadOnlyList<TensorSpec> specs, IReadOnlyDictionary<string, NamedTensor> inputs, string paramName)
    {
        ArgumentNullException.ThrowIfNull(inputs, paramName);
        var problems = new List<string>();
        string? first = null;
        void Problem(string input, string text) { first ??= input; problems.Add(text); }

        foreach (var spec in specs)
        {
            if (!inputs.TryGetValue(spec.Name, out var tensor))
            {
                Problem(spec.Name, $"input '{spec.Name}' is missing");
                continue;
            }
            if (tensor is null) { Problem(spec.Name, $"input '{spec.Name}' is null"); continue; }
            if (spec.DataType != tensor.DataType)
                Problem(spec.Name, $"input '{spec.Name}' has dtype {TypeName(tensor.DataType)} but the model expects {spec.TypeName}");
            if (spec.Rank != tensor.Rank)
            {
                Problem(spec.Name, $"input '{spec.Name}' has rank {tensor.Rank} (shape [{string.Join(",", tensor.Shape)}]) but the model expects rank {spec.Rank} ({spec.ShapeText})");
                continue;
            }
            for (int axis = 0; axis < spec.Rank; axis++)
                if (spec.Dims[axis] >= 0 && spec.Dims[axis] != tensor.Shape[axis])
                    Problem(spec.Name, $"input '{spec.Name}' has size {tensor.Shape[axis]} in dimension {axis} (shape [{string.Join(",", tensor.Shape)}]) but the model expects {spec.Dims[axis]} ({spec.ShapeText})");
            CheckSymbolicDims(spec, tensor, specs, inputs, Problem);
        }
        foreach (var name in inputs.Keys)
            if (!specs.Any(s => s.Name == name))
                Problem(name, $"input '{name}' is not an input of the model");

        if (problems.Count > 0)
            throw new ArgumentException(
                $"Invalid model inputs: {string.Join("; ", problems)}. The model expects: {Describe(specs)}.", first);
    }

    /// <summary>All inputs with dtype and shape, for error messages.</summary>
    public static string Describe(IReadOnlyList<TensorSpec> specs) => string.Join(", ", specs.Select(s => s.ToString()));

    /// <summary>Two dims with the same symbolic name (for example <c>batch</c> of two inputs) must agree.</summary>
    static void CheckSymbolicDims(TensorSpec spec, NamedTensor tensor, IReadOnlyList<TensorSpec> specs,
        IReadOnlyDictionary<string, NamedTensor> inputs, Action<string, string> problem)
    {
        for (int axis = 0; axis < spec.Rank; axis++)
        {
            string? symbol = spec.DimNames[axis];
            if (symbol is null) continue;
            foreach (var other in specs)
            {
                if (other.Name == spec.Name) break; // compare each pair once, against inputs listed earlier
                if (!inputs.TryGetValue(other.Name, out var o) || o is null || o.Rank != other.Rank) continue;
                for (int a = 0; a < other.Rank; a++)
                    if (other.DimNames[a] == symbol && o.Shape[a] != tensor.Shape[axis])
                        problem(spec.Name, $"input '{spec.Name}' has {symbol}={tensor.Shape[axis]} but input '{other.Name}' has {symbol}={o.Shape[a]}");
            }
        }
    }

    public static string TypeName(TensorDataType type) => type switch
    {
        TensorDataType.Float32 => "float",
        TensorDataType.Int64 => "int64",
        TensorDataType.Int32 => "int32",
        TensorDataType.UInt8 => "uint8",
        TensorDataType.Float64 => "double",
        _ => "other",
    };
}
