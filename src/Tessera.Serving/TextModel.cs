using System.Text;
using System.Text.Json;
using Tessera.Text;
using Tessera.Text.Generation;

namespace Tessera.Serving;

/// <summary>A served text model: its decoder, tokenizer, generation defaults and scheduler.</summary>
internal sealed class TextModel : IDisposable
{
    public TextModel(string name, IServingDecoder decoder, HfTokenizer tokenizer, GenerationConfig defaults, ServerOptions options, ServingMetrics.ModelMetrics metrics)
    {
        Name = name;
        Decoder = decoder;
        Tokenizer = tokenizer;
        IReadOnlyList<int> eos = defaults.EosTokenId is null or { ValueKind: JsonValueKind.Null }
            ? (decoder.SpecialTokenIds.EosTokenIds.Count > 0 ? decoder.SpecialTokenIds.EosTokenIds : tokenizer.EosTokenId is int e ? [e] : [])
            : defaults.EosTokenIds;
        BosTokenId = defaults.BosTokenId ?? decoder.SpecialTokenIds.BosTokenId ?? tokenizer.BosTokenId;
        Scheduler = new GenerationScheduler(name, decoder, tokenizer, eos, options.MaxBatch, options.MaxQueue, metrics);
        metrics.Running = () => Scheduler.Running;
        metrics.Waiting = () => Scheduler.Waiting;
    }

    public string Name { get; }
    public IServingDecoder Decoder { get; }
    public HfTokenizer Tokenizer { get; }
    public int? BosTokenId { get; }
    public GenerationScheduler Scheduler { get; }

    /// <summary>The prompt's ids (BOS alone for an empty prompt).</summary>
    public IReadOnlyList<int> Encode(string prompt)
    {
        IReadOnlyList<int> ids = Tokenizer.Encode(prompt).Ids;
        if (ids.Count > 0) return ids;
        return BosTokenId is int bos ? [bos] : throw ApiError.BadRequest("the prompt encodes to no tokens and the model has no bos_token_id to start from", "prompt");
    }

    /// <summary>
    /// The chat prompt: each message as <c>role: content</c> on its own line, then <c>assistant:</c> for the reply.
    /// (Jinja chat templates in tokenizer_config.json are not rendered; this plain format is used for every model.)
    /// </summary>
    public static string FormatChat(IReadOnlyList<(string Role, string Content)> messages)
    {
        var text = new StringBuilder();
        foreach (var (role, content) in messages) text.Append(role).Append(": ").Append(content).Append('\n');
        return text.Append("assistant:").ToString();
    }

    public void Dispose()
    {
        Scheduler.Dispose();
        Decoder.Dispose();
    }
}
