using System.Text.Json.Nodes;

namespace Tessera.Text.Pipeline;

/// <summary>One token a model produced for a word: its id and the character range [Start, End) of the word it covers.</summary>
internal readonly record struct ModelToken(int Id, int Start, int End);

/// <summary>A tokenizer.json model: turns one pre-tokenized word into token ids.</summary>
internal abstract class TokenModel
{
    /// <summary>Appends the tokens of <paramref name="word"/> to <paramref name="output"/>.</summary>
    public abstract void Tokenize(string word, List<ModelToken> output);

    /// <summary>The model's vocabulary, token to id.</summary>
    public abstract IReadOnlyDictionary<string, int> Vocab { get; }

    /// <summary>The unknown token, when the model has one.</summary>
    public abstract string? UnknownToken { get; }

    /// <summary>Reads the <c>model</c> object of tokenizer.json.</summary>
    public static TokenModel FromJson(JsonNode? node, string path)
    {
        if (node is null) throw new Formats.TesseraFormatException(path, "tokenizer.json has no 'model'");
        // Old files omit model.type; the presence of merges or a "##" prefix tells which it is.
        string type = JsonHelpers.Str(node, "type") ?? (node["merges"] is not null ? "BPE" : "WordPiece");
        return type switch
        {
            "BPE" => BpeModel.FromJson(node, path),
            "WordPiece" => WordPieceModel.FromJson(node, path),
            _ => throw JsonHelpers.Unsupported(path, "model", type, "BPE, WordPiece"),
        };
    }

    /// <summary>Reads a <c>{"token": id}</c> vocabulary object.</summary>
    protected static Dictionary<string, int> ReadVocab(JsonNode? node, string path)
    {
        if (node is not JsonObject obj) throw new Formats.TesseraFormatException(path, "model.vocab must be an object of token: id");
        var vocab = new Dictionary<string, int>(obj.Count, StringComparer.Ordinal);
        foreach (var (token, id) in obj)
            vocab[token] = id?.GetValue<int>() ?? throw new Formats.TesseraFormatException(path, $"model.vocab['{token}'] is null");
        return vocab;
    }
}
