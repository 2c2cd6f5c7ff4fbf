namespace Tessera.Serving;

/// <summary>Loads a model folder that is not an exported ONNX folder (e.g. safetensors weights through TorchSharp) as a decoder.</summary>
/// <param name="folder">The model folder.</param>
/// <returns>The decoder.</returns>
public delegate IServingDecoder DecoderFolderLoader(string folder);

/// <summary>Settings of a <see cref="TesseraServer"/> (what <c>tessera serve</c>'s options set).</summary>
public sealed record ServerOptions
{
    /// <summary>Address to listen on.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Port; 0 picks a free one (see <see cref="TesseraServer.Address"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, <c>/v1/*</c> and <c>/v2/models/*</c> need <c>Authorization: Bearer KEY</c> (else 401).</summary>
    public string? ApiKey { get; init; }

    /// <summary>Most sequences a text model decodes together; most requests in one classifier run.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>Most requests waiting per model; beyond it a request gets 429 with Retry-After.</summary>
    public int MaxQueue { get; init; } = 64;

    /// <summary>Largest request body in bytes (413 beyond it).</summary>
    public long MaxBodyBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Largest <c>max_tokens</c> a request may ask for (400 beyond it).</summary>
    public int MaxTokensCap { get; init; } = 4096;

    /// <summary>How long a classifier waits for more requests to run as one batch; zero turns dynamic batching off.</summary>
    public TimeSpan BatchWindow { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>On shutdown (SIGTERM), how long running requests may go on before they are cut.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>ONNX Runtime threads per model run; 0 for its default (one per core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>
    /// Whether ONNX Runtime's threads spin between runs. Default false (they sleep): the cores are shared with Kestrel
    /// and the clients, and spinning threads starve them (measured: 13-15 % fewer tokens/s on 2 cores, see bench/README.md).
    /// </summary>
    public bool OrtSpinning { get; init; }

    /// <summary>Receives one JSON line per request; null for none.</summary>
    public TextWriter? RequestLog { get; init; }

    /// <summary>Loads folders that are not exported ONNX folders (the CLI passes TorchSharp's); null refuses them.</summary>
    public DecoderFolderLoader? FolderLoader { get; init; }

    /// <summary>
    /// How chat replies are searched for tool calls when a request has <c>tools</c> (OpenAI's <c>message.tool_calls</c>,
    /// finish_reason <c>tool_calls</c>); <see cref="Serving.ToolCallFormat.Hermes"/> by default.
    /// </summary>
    public ToolCallFormat ToolCallFormat { get; init; } = ToolCallFormat.Hermes;

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"port must be in 0..65535 (got {Port})");
        if (MaxBatch < 1) throw new ArgumentException($"max-batch must be at least 1 (got {MaxBatch})");
        if (MaxQueue < 0) throw new ArgumentException($"max-queue must not be negative (got {MaxQueue})");
        if (MaxBodyBytes < 1) throw new ArgumentException($"max-body-bytes must be positive (got {MaxBodyBytes})");
        if (MaxTokensCap < 1) throw new ArgumentException($"max-tokens-cap must be positive (got {MaxTokensCap})");
        if (BatchWindow < TimeSpan.Zero) throw new ArgumentException($"batch-window must not be negative (got {BatchWindow})");
        if (ApiKey is { Length: 0 }) throw new ArgumentException("the API key is empty");
    }
}

/// <summary>A model to serve: the name clients use and its path.</summary>
/// <param name="Name">Name in requests (<c>model</c> field, <c>/v2/models/{name}</c>).</param>
/// <param name="Path">An exported decoder folder (model.onnx + tokenizer), an .onnx file or ONNX folder (a classifier), or a folder <see cref="ServerOptions.FolderLoader"/> loads.</param>
public sealed record ServedModel(string Name, string Path)
{
    /// <summary>The default name for <paramref name="path"/>: the folder's name, or the file name up to its first dot.</summary>
    public static string DefaultName(string path)
    {
        string trimmed = path.TrimEnd('/', '\\');
        string name = System.IO.Path.GetFileName(trimmed);
        if (File.Exists(trimmed)) name = name.Split('.')[0];
        return name.Length == 0 ? "model" : name;
    }
}
