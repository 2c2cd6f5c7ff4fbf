using Tessera.Runtime;
using Tessera.Runtime.Generation;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Text.Templates;

namespace Tessera.Serving;

/// <summary>What a served model does.</summary>
internal enum ModelKind { Text, Classifier }

/// <summary>The served models by name, each loading, ready or failed.</summary>
internal sealed class ModelRegistry(ServerOptions options, ServingMetrics metrics) : IDisposable
{
    readonly List<Entry> entries = [];

    internal sealed class Entry(string name, string path, ModelKind kind)
    {
        public string Name { get; } = name;
        public string Path { get; } = path;
        public ModelKind Kind { get; } = kind;
        public long Created { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        public volatile object? Loaded;          // TextModel or ClassifierModel
        public volatile Exception? Failure;
    }

    public IReadOnlyList<Entry> Entries => entries;

    public bool AllReady => entries.All(e => e.Loaded is not null);

    /// <summary>Registers the models (kind decided from the files, nothing loaded yet).</summary>
    /// <exception cref="ArgumentException">A name is used twice or a path does not exist.</exception>
    public void Add(IEnumerable<ServedModel> models)
    {
        foreach (var m in models)
        {
            if (entries.Any(e => e.Name == m.Name)) throw new ArgumentException($"two models are named \"{m.Name}\"; name them with --model NAME=PATH");
            if (!File.Exists(m.Path) && !Directory.Exists(m.Path)) throw new ArgumentException($"model path {m.Path} does not exist");
            entries.Add(new Entry(m.Name, m.Path, KindOf(m.Path)));
        }
    }

    /// <summary>A folder with a tokenizer and model.onnx, or with safetensors weights, generates text; any other ONNX model classifies.</summary>
    static ModelKind KindOf(string path)
    {
        if (!Directory.Exists(path)) return ModelKind.Classifier;
        bool tokenizer = File.Exists(System.IO.Path.Combine(path, "tokenizer.json")) || File.Exists(System.IO.Path.Combine(path, "vocab.json"));
        bool weights = Directory.EnumerateFiles(path, "*.safetensors").Any();
        return tokenizer && (OrtTextGenerator.IsDecoderFolder(path) || weights) ? ModelKind.Text : ModelKind.Classifier;
    }

    /// <summary>Loads every model in turn; a failure is kept on its entry (requests for it then get 500).</summary>
    public void LoadAll()
    {
        foreach (var entry in entries)
        {
            try
            {
                entry.Loaded = Load(entry);
            }
            catch (Exception e)
            {
                entry.Failure = e;
            }
        }
    }

    object Load(Entry entry)
    {
        var modelMetrics = metrics.For(entry.Name);
        if (entry.Kind == ModelKind.Classifier)
            return new ClassifierModel(entry.Name, OnnxModel.Load(entry.Path, new OnnxSessionOptions { IntraOpThreads = options.IntraOpThreads, AllowSpinning = options.OrtSpinning }), options, modelMetrics);
        HfTokenizer tokenizer = AutoTokenizer.FromPretrained(entry.Path);
        GenerationConfig defaults = GenerationConfig.Load(entry.Path);
        // A template that does not parse fails the load (naming the file and line) rather than serving wrong prompts.
        ChatTemplate? chatTemplate = ChatTemplate.Load(entry.Path);
        // As transformers does: a request with tools renders the template named tool_use when the list of named templates has one.
        ChatTemplate? toolTemplate = ChatTemplate.TemplateNames(entry.Path).Contains("tool_use") ? ChatTemplate.Load(entry.Path, "tool_use") : null;
        IServingDecoder decoder = OrtTextGenerator.IsDecoderFolder(entry.Path)
            ? OrtServingDecoder.Load(entry.Path, options.IntraOpThreads, options.OrtSpinning)
            : options.FolderLoader?.Invoke(entry.Path)
              ?? throw new NotSupportedException($"{entry.Path} holds safetensors weights; serving them needs TorchSharp (the tessera CLI), or export the folder to ONNX with tessera export");
        try
        {
            return new TextModel(entry.Name, decoder, tokenizer, defaults, options, modelMetrics, chatTemplate, toolTemplate);
        }
        catch
        {
            decoder.Dispose();
            throw;
        }
    }

    Entry Find(string name, ModelKind kind) =>
        entries.FirstOrDefault(e => e.Name == name && e.Kind == kind)
        ?? throw new ApiError(404, $"The model `{name}` does not exist. Served {(kind == ModelKind.Text ? "text" : "inference")} models: {string.Join(", ", entries.Where(e => e.Kind == kind).Select(e => e.Name))}", "invalid_request_error", "model", "model_not_found");

    static object Ready(Entry entry) => entry.Loaded
        ?? (entry.Failure is { } f ? throw new ApiError(500, $"model {entry.Name} failed to load: {f.Message}", "server_error")
            : throw new ApiError(503, $"model {entry.Name} is still loading", "service_unavailable") { RetryAfterSeconds = 1 });

    public TextModel Text(string name) => (TextModel)Ready(Find(name, ModelKind.Text));

    public ClassifierModel Classifier(string name) => (ClassifierModel)Ready(Find(name, ModelKind.Classifier));

    public Entry? Get(string name) => entries.FirstOrDefault(e => e.Name == name);

    /// <summary>Stops the schedulers (after their running requests) and frees the sessions.</summary>
    public void Dispose()
    {
        foreach (var e in entries) (e.Loaded as IDisposable)?.Dispose();
    }
}
