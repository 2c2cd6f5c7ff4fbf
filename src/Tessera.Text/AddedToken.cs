namespace Tessera.Text;

/// <summary>
/// A token matched in the raw text before normalization and splitting (tokenizer.json <c>added_tokens</c>), such as
/// <c>&lt;|endoftext|&gt;</c> or <c>[CLS]</c>.
/// </summary>
/// <param name="Id">The token's id.</param>
/// <param name="Content">The text the token stands for.</param>
/// <param name="Special">Whether <see cref="HfTokenizer.Decode"/> drops it when asked to skip special tokens.</param>
/// <param name="SingleWord">Matched only when not inside a word.</param>
/// <param name="LStrip">Whitespace before the token is part of the match.</param>
/// <param name="RStrip">Whitespace after the token is part of the match.</param>
/// <param name="Normalized">Whether HF matches it on normalized text (kept for round trips; Tessera matches raw text).</param>
public sealed record AddedToken(int Id, string Content, bool Special, bool SingleWord = false, bool LStrip = false, bool RStrip = false, bool Normalized = false);
