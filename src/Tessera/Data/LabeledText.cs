namespace Tessera.Data;

/// <summary>One example of a text classification data set: the text and its label as written in the file.</summary>
/// <param name="Text">The input text.</param>
/// <param name="Label">The label (a name, or an integer written as text).</param>
public readonly record struct LabeledText(string Text, string Label);
