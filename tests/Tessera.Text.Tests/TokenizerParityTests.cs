using System.Diagnostics;
using System.Text.Json;
using Tessera.Tests.Shared;
using Tessera.Text;

namespace Tessera.Text.Tests;

/// <summary>
/// Parity with an independent implementation: npm <c>@huggingface/tokenizers</c> (tests/js, installed with
/// <c>npm ci --prefix tests/js</c>) encodes the same ~3000 lines from the same tokenizer.json; ids must match
/// exactly. Skipped (with the reason) when node or the package is missing; CI installs them.
/// </summary>
public class TokenizerParityTests
{
    static string? JsDir()
    {
        for (string? d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
        {
            string js = Path.Combine(d, "tests", "js");
            if (File.Exists(Path.Combine(js, "encode.mjs")))
                return Directory.Exists(Path.Combine(js, "node_modules", "@huggingface", "tokenizers")) ? js : null;
        }
        return null;
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("bert")]
    [InlineData("sp")]
    [InlineData("llama3")]
    [InlineData("qwen2")]
    public void Ids_match_huggingface_tokenizers_js(string which)
    {
        string? js = JsDir();
        Requires.Node();
        Requires.TestsJsPackages(js);
        string folder = which switch
        {
            "gpt2" => TokenizerFixtures.Gpt2Folder,
            "bert" => TokenizerFixtures.BertFolder,
            "llama3" => TokenizerFixtures.Llama3Folder,
            "qwen2" => TokenizerFixtures.Qwen2Folder,
            _ => TokenizerFixtures.SentencePieceFolder,
        };
        HfTokenizer tok = AutoTokenizer.FromPretrained(folder);
        IReadOnlyList<string> lines = TokenizerFixtures.Corpus;

        using var dir = new TempDirectory();
        foreach (string f in Directory.GetFiles(folder)) File.Copy(f, dir.File(Path.GetFileName(f)));
        File.WriteAllText(dir.File("lines.json"), JsonSerializer.Serialize(lines));
        RunNode(Path.Combine(js, "encode.mjs"), dir.Path);
        using JsonDocument reference = JsonDocument.Parse(File.ReadAllText(dir.File("reference.json")));
        JsonElement ids = reference.RootElement.GetProperty("ids");
        JsonElement decoded = reference.RootElement.GetProperty("decoded");
        Assert.Equal(lines.Count, ids.GetArrayLength());

        var mismatches = new List<string>();
        for (int i = 0; i < lines.Count; i++)
        {
            int[] ours = [.. tok.Encode(lines[i]).Ids];
            int[] theirs = [.. ids[i].EnumerateArray().Select(x => x.GetInt32())];
            if (!ours.SequenceEqual(theirs))
                mismatches.Add($"{HfTokenizerTests.Show(lines[i])}\n  ours   [{string.Join(',', ours)}]\n  theirs [{string.Join(',', theirs)}]");
            else if (which is "gpt2" or "llama3" or "qwen2")
            {
                // Byte-level BPE loses nothing but what the normalizer changed (Qwen2's NFC).
                string text = which == "qwen2" ? lines[i].Normalize(System.Text.NormalizationForm.FormC) : lines[i];
                Assert.Equal(text, tok.Decode(which == "llama3" ? ours[1..] : ours)); // after Llama 3's <|begin_of_text|>
                Assert.Equal(decoded[i].GetString(), tok.Decode(ours));
            }
        }
        Assert.True(mismatches.Count == 0, $"{which}: {mismatches.Count} of {lines.Count} lines differ:\n{string.Join('\n', mismatches.Take(6))}");
    }

    static void RunNode(string script, string dir)
    {
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(dir);
        using var p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"node {script} {dir} failed with exit code {p.ExitCode}:\n{err.Result}\n{stdout}");
    }
}
