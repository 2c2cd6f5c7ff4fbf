using System.Text;

namespace Tessera.Text.Generation;

/// <summary>
/// The text of one generated row, built id by id with a <see cref="StreamingDecoder"/> (so no piece ends inside a
/// UTF-8 character), cut at the first stop string, and handed out in pieces that never include a possible beginning
/// of a stop string until it is known not to be one.
/// </summary>
public sealed class CompletionText
{
    readonly StreamingDecoder decoder;
    readonly IReadOnlyList<string> stopStrings;
    readonly int longestStop;
    readonly StringBuilder text = new();
    int handedOut;

    /// <summary>Starts an empty completion.</summary>
    /// <param name="tokenizer">Decodes the ids.</param>
    /// <param name="lastPromptId">
    /// The prompt's last id, decoded first as context and not included: decoders that drop a leading space at the
    /// start of a text (SentencePiece's Metaspace) then keep the space the completion starts with.
    /// </param>
    /// <param name="stopStrings">Strings that end the text.</param>
    public CompletionText(HfTokenizer tokenizer, int? lastPromptId, IReadOnlyList<string>? stopStrings)
    {
        decoder = tokenizer.CreateStreamingDecoder(skipSpecialTokens: true);
        this.stopStrings = stopStrings ?? [];
        longestStop = this.stopStrings.Count == 0 ? 0 : this.stopStrings.Max(s => s.Length);
        // Only a context id that decodes to whole characters can be dropped cleanly.
        if (lastPromptId is int id && !tokenizer.Decode([id], skipSpecialTokens: true, cleanUpTokenizationSpaces: false).Contains('\uFFFD'))
            decoder.Push(id);
    }

    /// <summary>True once the text reached a stop string (it is then cut before it and takes no more ids).</summary>
    public bool Stopped { get; private set; }

    /// <summary>The text so far (up to the stop string once <see cref="Stopped"/>).</summary>
    public string Text => text.ToString();

    /// <summary>Adds the text of <paramref name="id"/>; returns true when that reached a stop string.</summary>
    public bool Append(int id) => !Stopped && Add(decoder.Push(id));

    /// <summary>Adds whatever the decoder still holds (the row is over).</summary>
    public void Complete()
    {
        if (!Stopped) Add(decoder.Flush());
    }

    bool Add(string piece)
    {
        if (piece.Length == 0) return false;
        int from = Math.Max(0, text.Length - longestStop + 1);
        text.Append(piece);
        if (longestStop == 0) return false;
        string tail = text.ToString(from, text.Length - from);
        int cut = -1;
        foreach (string stop in stopStrings)
        {
            int at = tail.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut < 0) return false;
        text.Length = from + cut;
        Stopped = true;
        return true;
    }

    /// <summary>
    /// The text not handed out yet, except (while the row may go on) a tail that could be the start of a stop string.
    /// Pass <paramref name="final"/> once the row is over to get everything.
    /// </summary>
    public string TakePiece(bool final)
    {
        int end = text.Length;
        if (!final && !Stopped) end -= HeldBack();
        if (end <= handedOut) return "";
        string piece = text.ToString(handedOut, end - handedOut);
        handedOut = end;
        return piece;
    }

    /// <summary>Length of the longest suffix of the text that is a proper prefix of a stop string.</summary>
    int HeldBack()
    {
        int best = 0;
        foreach (string stop in stopStrings)
        {
            for (int n = Math.Min(stop.Length - 1, text.Length); n > best; n--)
            {
                if (text.ToString(text.Length - n, n) == stop[..n]) { best = n; break; }
            }
        }
        // Never split a surrogate pair.
        if (best > 0 && best < text.Length && char.IsLowSurrogate(text[text.Length - best])) best++;
        return Math.Min(best, text.Length - handedOut);
    }
}
