namespace Tessera.Text;

/// <summary>
/// Decodes ids one at a time for streaming output. Each <see cref="Push"/> returns the text the new id completes;
/// an incomplete UTF-8 sequence (byte-level BPE or byte-fallback tokens in the middle of a character) is held back
/// until the character is whole, so no piece ever ends in half a character. Spacing follows the full decode:
/// the concatenated pieces equal <see cref="HfTokenizer.Decode"/> of all ids.
/// </summary>
/// <remarks>
/// One exception: a run of byte-fallback tokens that is not valid UTF-8. The full decode (as Hugging Face tokenizers)
/// turns every byte of such a run into U+FFFD, the valid characters in it included; matching that would mean holding
/// back every byte run until it ends, which stalls streaming for byte-vocabulary models. So the characters already
/// streamed stay, and each invalid byte after them comes out as one U+FFFD.
/// </remarks>
public sealed class StreamingDecoder
{
    // A UTF-8 character spans at most 4 bytes, so 4 held ids with no complete character means a truly invalid sequence.
    const int MaxHeld = 4;
    readonly HfTokenizer tokenizer;
    readonly bool skipSpecialTokens;
    readonly List<int> window = [];
    string windowText = "";
    int held, context;

    /// <summary>Creates a decoder over <paramref name="tokenizer"/>.</summary>
    public StreamingDecoder(HfTokenizer tokenizer, bool skipSpecialTokens = true)
    {
        this.tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Adds <paramref name="id"/> and returns the text it completes (possibly empty).</summary>
    public string Push(int id)
    {
        window.Add(id);
        string text = tokenizer.Decode(window, skipSpecialTokens, cleanUpTokenizationSpaces: false);
        if (text.EndsWith('\uFFFD') && ++held < MaxHeld) return "";
        return Emit(text);
    }

    /// <summary>Returns whatever is still held back (an invalid trailing sequence decodes to U+FFFD) and resets.</summary>
    public string Flush()
    {
        string rest = window.Count == 0 ? "" : Emit(tokenizer.Decode(window, skipSpecialTokens, cleanUpTokenizationSpaces: false));
        window.Clear();
        windowText = "";
        context = 0;
        return rest;
    }

    string Emit(string text)
    {
        // Not a continuation of what was streamed: a byte run turned invalid (see remarks); the new ids alone give
        // one U+FFFD per invalid byte.
        string piece = text.StartsWith(windowText, StringComparison.Ordinal)
            ? text[windowText.Length..]
            : tokenizer.Decode(window[context..], skipSpecialTokens, cleanUpTokenizationSpaces: false);
        // The ids just emitted stay as context: decoders that strip a leading space (Metaspace) or join words need a left neighbour.
        window.RemoveRange(0, context);
        context = window.Count;
        windowText = tokenizer.Decode(window, skipSpecialTokens, cleanUpTokenizationSpaces: false);
        held = 0;
        return piece;
    }
}
