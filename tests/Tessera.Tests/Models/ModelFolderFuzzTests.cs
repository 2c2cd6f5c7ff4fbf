using System.Diagnostics;
using System.Text;
using Tessera.Tests.Shared;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Transformers;

namespace Tessera.Tests.Models;

/// <summary>
/// Property test: random byte mutations of a real model folder's JSON and safetensors files either load or fail with
/// one of Tessera's own errors (or a file-system error) that has a message: never a NullReference, IndexOutOfRange,
/// Overflow, OutOfMemory or InvalidCast, never a crash, never a long hang.
/// </summary>
public class ModelFolderFuzzTests
{
    const int Mutations = 500;
    static readonly string[] Files = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"];
    static readonly byte[] Interesting = Encoding.ASCII.GetBytes("0123456789-.e\"{}[],: \\nul");

    [Fact]
    public void Random_mutations_of_a_model_folder_fail_only_with_named_errors()
    {
        using var dir = new TempDirectory("tessera-fuzz-");
        string original = Path.Combine(dir.Path, "original"), folder = Path.Combine(dir.Path, "mutated");
        TorchSharp.torch.manual_seed(1);
        using (var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 257, NPositions = 32, NEmbd = 8, NLayer = 2, NHead = 2 }))
            model.SavePretrained(original);
        ByteVocabulary.WriteTokenizerFiles(original, 32);
        new GenerationConfig { MaxNewTokens = 4, EosTokenId = System.Text.Json.JsonSerializer.SerializeToElement(ByteVocabulary.EndOfTextId) }.Save(original);
        Directory.CreateDirectory(folder);
        var bytes = Files.ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(original, f)));
        foreach (var (name, content) in bytes) File.WriteAllBytes(Path.Combine(folder, name), content);
        long headerEnd = 8 + BitConverter.ToInt64(bytes["model.safetensors"], 0);

        var rng = new Random(20261204);
        var clock = Stopwatch.StartNew();
        var outcomes = new Dictionary<string, int>();
        var failures = new Dictionary<string, string>();
        for (int i = 0; i < Mutations; i++)
        {
            string name = Files[rng.Next(Files.Length)];
            byte[] mutated = (byte[])bytes[name].Clone();
            // Most safetensors bytes are weights, where any value loads: aim most mutations at the header.
            long span = name == "model.safetensors" && rng.Next(4) != 0 ? headerEnd : mutated.Length;
            int changes = 1 + rng.Next(4);
            var where = new List<long>();
            for (int c = 0; c < changes; c++)
            {
                long at = rng.NextInt64(span);
                mutated[at] = rng.Next(2) == 0 ? (byte)rng.Next(256) : Interesting[rng.Next(Interesting.Length)];
                where.Add(at);
            }
            File.WriteAllBytes(Path.Combine(folder, name), mutated);
            var one = Stopwatch.StartNew();
            string outcome;
            try
            {
                using (var lm = AutoModelForCausalLM.FromPretrained(folder)) { }
                HfTokenizer tokenizer = AutoTokenizer.FromPretrained(folder);
                _ = tokenizer.Decode(tokenizer.Encode("hello, world").Ids);
                _ = GenerationConfig.Load(folder);
                outcome = "loaded";
            }
            catch (Exception e) when (e is TesseraException or IOException)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message), $"mutation {i} of {name}: empty message");
                outcome = e.GetType().Name;
            }
            catch (Exception e)
            {
                // Collected, not thrown at once, so one run lists every kind of escape.
                if (failures.TryAdd(e.GetType().Name + " " + e.StackTrace?.Split('\n').FirstOrDefault(l => l.Contains("Tessera.", StringComparison.Ordinal))?.Trim(),
                    $"mutation {i} of {name} at bytes [{string.Join(", ", where)}]: {e}")) { }
                outcome = "escaped " + e.GetType().Name;
            }
            Assert.True(one.Elapsed < TimeSpan.FromSeconds(5), $"mutation {i} of {name} at bytes [{string.Join(", ", where)}] took {one.Elapsed}");
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            File.WriteAllBytes(Path.Combine(folder, name), bytes[name]);
        }
        Assert.True(failures.Count == 0, $"{failures.Count} kind(s) of exception escaped:\n" + string.Join("\n\n", failures.Values));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{Mutations} mutations took {clock.Elapsed}");
        // The mutations must exercise both paths: some still load (weight bytes), most are refused.
        Assert.True(outcomes.GetValueOrDefault("loaded") > 0, string.Join(", ", outcomes));
        Assert.True(outcomes.Where(kv => kv.Key != "loaded").Sum(kv => kv.Value) > Mutations / 4, string.Join(", ", outcomes));
    }
}
