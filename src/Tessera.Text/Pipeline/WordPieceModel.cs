using System.Text.Json.Nodes;

namespace Tessera.Text.Pipeline;

/// <summary>
/// WordPiece as BERT defines it: greedy longest-match-first over the word, later pieces carrying the
/// continuing-subword prefix (<c>##</c>); a word with any unmatched remainder becomes the unknown token.
/// Implemented here (not with Microsoft.ML.Tokenizers' WordPieceTokenizer) so that it runs on the words our
/// tokenizer.json pre-tokenizer produced, with HF's offsets; the unit tests compare it with that class.
/// </summary>
internal sealed class WordPieceModel(Dictionary<string, int> vocab, string unk, string prefix, int maxInputCharsPerWord) : TokenModel
{
    public override IReadOnlyDictionary<string, int> Vocab => vocab;

    public override string? UnknownToken => unk;

    public static new WordPieceModel FromJson(JsonNode node, string path) =>
        new(ReadVocab(node["vocab"], path), JsonHelpers.Str(node, "unk_token") ?? "[UNK]",
            JsonHelpers.Str(node, "continuing_subword_prefix") ?? "##", JsonHelpers.Int(node, "max_input_chars_per_word", 100));

    public override void Tokenize(string word, List<ModelToken> output)
    {
        if (word.Length == 0) return;
        int mark = output.Count;
        int runes = 0;
        foreach (var _ in word.EnumerateRunes()) runes++;
        if (runes <= maxInputCharsPerWord)
        {
            int start = 0;
            while (start < word.Length)
            {
                int end = word.Length, found = -1;
                while (end > start)
                {
                    string piece = start > 0 ? prefix + word[start..end] : word[start..end];
                    if (vocab.TryGetValue(piece, out int id)) { found = id; break; }
                    end -= end - 1 > start && char.IsLowSurrogate(word[end - 1]) ? 2 : 1;
                }
                if (found < 0) break;
                output.Add(new ModelToken(found, start, end));
                start = end;
            }
            if (start == word.Length) return;
        }
        output.RemoveRange(mark, output.Count - mark);
        output.Add(new ModelToken(vocab.TryGetValue(unk, out int unkId) ? unkId
            : throw new Formats.TesseraFormatException(null, $"WordPiece unknown token '{unk}' is not in the vocabulary"), 0, word.Length));
    }
}
