namespace Tessera.Text.Pipeline;

/// <summary>
/// GPT-2's reversible byte-to-character table: printable Latin-1 bytes map to themselves, the other 68 bytes to
/// U+0100.. in byte order, so every byte string becomes a printable string without whitespace or control characters.
/// </summary>
internal static class ByteLevelAlphabet
{
    /// <summary>The character that stands for each byte.</summary>
    public static readonly char[] ByteToChar = Build();

    /// <summary>The byte each alphabet character stands for; -1 for characters outside the alphabet.</summary>
    public static readonly short[] CharToByte = Invert(ByteToChar);

    static char[] Build()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    static short[] Invert(char[] table)
    {
        var inverse = new short[512];
        Array.Fill(inverse, (short)-1);
        for (int b = 0; b < 256; b++) inverse[table[b]] = (short)b;
        return inverse;
    }

    /// <summary>The bytes a token of alphabet characters stands for, or null when a character is outside the alphabet.</summary>
    public static bool TryAppendBytes(string token, List<byte> bytes)
    {
        int mark = bytes.Count;
        foreach (char c in token)
        {
            short b = c < CharToByte.Length ? CharToByte[c] : (short)-1;
            if (b < 0)
            {
                bytes.RemoveRange(mark, bytes.Count - mark);
                return false;
            }
            bytes.Add((byte)b);
        }
        return true;
    }
}
