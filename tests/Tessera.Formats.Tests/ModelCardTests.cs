using System.Collections;
using System.Globalization;
using System.Text.Json.Nodes;
using Tessera.Formats;
using Tessera.Tests.Shared;

namespace Tessera.Formats.Tests;

public class ModelCardTests
{
    static ModelCard FullCard()
    {
        var card = new ModelCard { Title = "Fashion-MNIST CNN", Description = "A small CNN.\n\nTrained with **Tessera**." };
        card.FrontMatter["tags"] = new List<object?> { "image-classification", "tessera", "fashion-mnist" };
        card.FrontMatter["datasets"] = new[] { "fashion_mnist" };
        card.FrontMatter["metrics"] = new List<string> { "accuracy" };
        card.FrontMatter["license"] = "mit";
        card.FrontMatter["pipeline_tag"] = "image-classification";
        card.FrontMatter["learning_rate"] = 1e-5;
        card.FrontMatter["epochs"] = 3;
        card.FrontMatter["big"] = 1.5e300;
        card.FrontMatter["whole"] = 2.0;
        card.FrontMatter["flag"] = true;
        card.FrontMatter["nothing"] = null;
        card.FrontMatter["empty_list"] = new List<object?>();
        card.FrontMatter["empty_map"] = new Dictionary<string, object?>();
        card.FrontMatter["model-index"] = new List<object?>
        {
            new OrderedDictionary<string, object?>
            {
                ["name"] = "fashion-cnn",
                ["results"] = new List<object?>
                {
                    new OrderedDictionary<string, object?>
                    {
                        ["task"] = new OrderedDictionary<string, object?> { ["type"] = "image-classification" },
                        ["dataset"] = new OrderedDictionary<string, object?> { ["name"] = "Fashion-MNIST", ["type"] = "fashion_mnist", ["split"] = "test" },
                        ["metrics"] = new List<object?> { new OrderedDictionary<string, object?> { ["type"] = "accuracy", ["value"] = 0.9123 } },
                    },
                },
            },
        };
        card.FrontMatter["nested_lists"] = new List<object?> { new List<object?> { 1, 2 }, new List<object?>(), "x" };
        card.Dataset = "Fashion-MNIST, 60000 training and 10000 test images.";
        card.Metrics["accuracy"] = 0.9123;
        card.Metrics["loss|val"] = 0.1 + 0.2;
        card.SetHyperparameter("learning_rate", 0.001);
        card.SetHyperparameter("batch_size", 64);
        card.SetHyperparameter("optimizer", "Adam(β1=0.9 | β2=0.999)");
        card.TrainingDate = new DateTimeOffset(2026, 11, 25, 10, 13, 21, 500, TimeSpan.FromHours(1));
        card.CaptureLibraryVersions("0.107.0");
        card.Sections["Usage"] = "```csharp\n## not a heading inside a fence\nvar m = Cnn.FromPretrained(\"x\");\n```";
        card.Sections["Limitations"] = "Grayscale 28x28 only.";
        return card;
    }

    [Fact]
    public void Markdown_round_trips_every_part_of_the_card()
    {
        var card = FullCard();
        string md = card.ToMarkdown();
        Assert.StartsWith("---\nlibrary_name: tessera\ntags:\n- image-classification\n", md);
        Assert.Contains("\n# Fashion-MNIST CNN\n", md);
        Assert.Contains("| accuracy | 0.9123 |", md);
        Assert.Contains("| loss\\|val | 0.30000000000000004 |", md);
        Assert.Contains("## Training date\n\n2026-11-25T09:13:21.5Z\n", md);
        Assert.Contains("learning_rate: 1.0e-05\n", md);
        Assert.Contains("whole: 2.0\n", md);

        var back = ModelCard.Parse(md);
        Assert.Equal(md, back.ToMarkdown());
        Assert.Equal(card.Title, back.Title);
        Assert.Equal(card.Description, back.Description);
        Assert.Equal(card.Dataset, back.Dataset);
        Assert.Equal(card.Metrics, back.Metrics);
        Assert.Equal(card.Hyperparameters, back.Hyperparameters);
        Assert.Equal(card.TrainingDate, back.TrainingDate);
        Assert.Equal(card.LibraryVersions, back.LibraryVersions);
        Assert.Equal(card.Sections, back.Sections);
        Assert.Equal(Canonical(card.FrontMatter)!.ToJsonString(), Canonical(back.FrontMatter)!.ToJsonString());
        Assert.IsType<long>(back.FrontMatter["epochs"]);
        Assert.IsType<double>(back.FrontMatter["whole"]);
        Assert.Null(back.FrontMatter["nothing"]);
    }

    public static readonly string[] Hostile =
    [
        "a: b", "key:value", "#hash", "a #b", "a#b", " lead", "trail ", "  ", "", "yes", "No", "ON", "null", "~", "Null",
        "true", "FALSE", "123", "-7", "1.5", "1e3", ".5", "0x1F", "0o17", "1_000", ".inf", ".NaN", "2024-01-01", "12:30:00",
        "- item", "-", "--- ", "---", "...", "[a, b]", "{a: 1}", "'single'", "\"double\"", "it's", "back\\slash", "line\nbreak",
        "tab\there", "cr\rhere", "nul\0byte", "\u0001ctl", "del\u007f", "é ü 漢字 🙂", "\u2028sep", "\uFEFFbom", "@at", "`tick",
        "%pct", "&anchor", "*alias", "!tag", "|", ">", "?", "? q", ",", "a, b", "http://example.com/x?y=1#frag", "C:\\path",
        "=", "<<", "a  b",
    ];

    [Fact]
    public void Hostile_strings_and_keys_round_trip_through_our_parser()
    {
        var card = new ModelCard();
        card.FrontMatter["values"] = Hostile.ToList();
        for (int i = 0; i < Hostile.Length; i++)
            if (Hostile[i].Length > 0) card.FrontMatter[Hostile[i]] = Hostile[i];
        var back = ModelCard.Parse(card.ToMarkdown());
        Assert.Equal(Hostile, ((IEnumerable)back.FrontMatter["values"]!).Cast<string>().ToArray());
        foreach (var s in Hostile.Where(s => s.Length > 0))
            Assert.Equal(s, back.FrontMatter[s]);
    }

    [Fact]
    public void Front_matter_reads_the_same_in_PyYAML()
    {
        Requires.Python("yaml");
        var card = FullCard();
        card.FrontMatter["values"] = Hostile.ToList();
        foreach (var s in Hostile.Where(s => s.Length > 0)) card.FrontMatter["k" + s] = s;
        card.FrontMatter["floats"] = new List<object?> { 0.1, -2.5e-8, 1e21, 123456789.0, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.0, -0.0 };
        card.FrontMatter["ints"] = new List<object?> { 0, -1, long.MaxValue, long.MinValue };

        using var dir = new TempDirectory("tessera-card-");
        string path = dir.File("README.md");
        card.Save(path);
        string script = """
            import sys, json, yaml
            text = open(sys.argv[1], encoding="utf-8").read()
            fm = text.split("\n---\n", 1)[0][len("---\n"):]
            def canon(v):
                if isinstance(v, bool) or v is None or isinstance(v, str): return v
                if isinstance(v, int): return {"int": str(v)}
                if isinstance(v, float): return {"float": v if v == v and abs(v) != float("inf") else str(v)}
                if isinstance(v, list): return [canon(x) for x in v]
                if isinstance(v, dict): return {"map": [[k, canon(x)] for k, x in v.items()]}
                raise TypeError(type(v))
            print(json.dumps(canon(yaml.safe_load(fm)), ensure_ascii=True))
            """;
        string stdout = ReferencePython.Run(script, path);
        var theirs = JsonNode.Parse(stdout)!;
        var ours = Canonical(ModelCard.Load(path).FrontMatter);
        AssertSameJson(ours, theirs, "$");
        AssertSameJson(Canonical(card.FrontMatter), theirs, "$");
    }

    [Fact]
    public void Hand_written_front_matter_in_common_styles_parses()
    {
        const string md = """
            ---
            # a comment
            library_name: tessera   # trailing comment
            tags: [image-classification, "quoted, with comma", 'it''s']
            datasets:
            - mnist
            -   fashion_mnist
            license: 'apache-2.0'
            score: 0.5
            count: +12
            title: "tab\tand \u00e9 and \x41"
            nested:
              inner:
                - a: 1
                  b: [ ]
            empty:
            ---
            # Title

            Body text.
            """;
        var card = ModelCard.Parse(md);
        var fm = card.FrontMatter;
        Assert.Equal("tessera", fm["library_name"]);
        Assert.Equal(new object?[] { "image-classification", "quoted, with comma", "it's" }, (List<object?>)fm["tags"]!);
        Assert.Equal(new object?[] { "mnist", "fashion_mnist" }, (List<object?>)fm["datasets"]!);
        Assert.Equal("apache-2.0", fm["license"]);
        Assert.Equal(0.5, fm["score"]);
        Assert.Equal(12L, fm["count"]);
        Assert.Equal("tab\tand é and A", fm["title"]);
        var inner = (List<object?>)((IDictionary<string, object?>)fm["nested"]!)["inner"]!;
        var item = (IDictionary<string, object?>)inner[0]!;
        Assert.Equal(1L, item["a"]);
        Assert.Empty((List<object?>)item["b"]!);
        Assert.Null(fm["empty"]);
        Assert.Equal("Title", card.Title);
        Assert.Equal("Body text.", card.Description);
    }

    [Theory]
    [InlineData("---\nlibrary_name: tessera\n# Title\n", 1, "closing")]
    [InlineData("---\na: 1\n\tb: 2\n---\n", 3, "tab")]
    [InlineData("---\na: 1\njust words\n---\n", 3, "key: value")]
    [InlineData("---\na: 1\nb: 2\na: 3\n---\n", 4, "duplicate key \"a\"")]
    [InlineData("---\na: \"open\n---\n", 2, "unterminated")]
    [InlineData("---\na: \"bad \\q escape\"\n---\n", 2, "escape")]
    [InlineData("---\na: 1\n   b: 2\n---\n", 3, "indentation")]
    [InlineData("---\na:\n  - x\n    - y\n---\n", 4, "indentation")]
    [InlineData("---\na: |\n  text\n---\n", 2, "block scalars")]
    [InlineData("---\na: [x, y\n---\n", 2, "']'")]
    [InlineData("---\na: b: c\n---\n", 2, "quote it")]
    [InlineData("---\n- a\n---\n", 2, "mapping")]
    [InlineData("---\na: *ref\n---\n", 2, "aliases")]
    [InlineData("---\na: \"x\\u12\"\n---\n", 2, "hex")]
    public void Malformed_front_matter_errors_name_the_line(string md, int line, string expected)
    {
        var e = Assert.Throws<TesseraFormatException>(() => ModelCard.Parse(md, "cards/README.md"));
        Assert.Contains($"line {line}:", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("cards/README.md: ", e.Message);
    }

    [Fact]
    public void Load_names_the_file_and_Save_leaves_no_temporary_files()
    {
        using var dir = new TempDirectory("tessera-card-");
        string bad = dir.File("bad.md");
        File.WriteAllText(bad, "---\nx: [\n---\n");
        var e = Assert.Throws<TesseraFormatException>(() => ModelCard.Load(bad));
        Assert.Equal(bad, e.FilePath);

        string good = Path.Combine(dir.Path, "model", "README.md");
        FullCard().Save(good);
        Assert.Equal(FullCard().ToMarkdown(), File.ReadAllText(good));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(good)!));
    }

    [Fact]
    public void Card_without_front_matter_and_with_free_form_sections_parses()
    {
        var card = ModelCard.Parse("# Plain\n\nIntro.\n\n## Metrics\n\nIt is good.\n\n## Training date\n\nyesterday\n");
        Assert.Empty(card.FrontMatter);
        Assert.Equal("Plain", card.Title);
        Assert.Empty(card.Metrics);
        Assert.Equal("It is good.", card.Sections["Metrics"]);
        Assert.Null(card.TrainingDate);
        Assert.Equal("yesterday", card.Sections["Training date"]);
    }

    [Fact]
    public void Unsupported_front_matter_value_names_the_key()
    {
        var card = new ModelCard();
        card.FrontMatter["when"] = DateTime.UtcNow;
        var e = Assert.Throws<ArgumentException>(() => card.ToMarkdown());
        Assert.Contains("\"when\"", e.Message);
    }

    [Fact]
    public void Library_versions_name_tessera_torchsharp_runtime_and_os()
    {
        var card = new ModelCard();
        card.CaptureLibraryVersions("0.107.0");
        Assert.Equal(["Tessera", "TorchSharp", ".NET runtime", "OS"], card.LibraryVersions.Keys.ToArray());
        Assert.Equal("0.1.0", card.LibraryVersions["Tessera"]);
        Assert.StartsWith(".NET ", card.LibraryVersions[".NET runtime"]);
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>Same canonical JSON shape as the Python side: ints and floats tagged, maps as ordered pairs.</summary>
    static JsonNode? Canonical(object? v) => v switch
    {
        null => null,
        bool b => JsonValue.Create(b),
        string s => JsonValue.Create(s),
        int or long => new JsonObject { ["int"] = Convert.ToString(v, CultureInfo.InvariantCulture) },
        double d => new JsonObject
        {
            ["float"] = double.IsNaN(d) ? "nan" : double.IsPositiveInfinity(d) ? "inf" : double.IsNegativeInfinity(d) ? "-inf" : JsonValue.Create(d),
        },
        IDictionary m => new JsonObject
        {
            ["map"] = new JsonArray(Entries(m).Select(e => (JsonNode?)new JsonArray(JsonValue.Create((string)e.Key), Canonical(e.Value))).ToArray()),
        },
        IEnumerable l => new JsonArray(l.Cast<object?>().Select(Canonical).ToArray()),
        _ => throw new ArgumentException(v.GetType().Name),
    };

    static IEnumerable<DictionaryEntry> Entries(IDictionary m)
    {
        var e = m.GetEnumerator(); // IDictionaryEnumerator: DictionaryEntry for every IDictionary, generic or not
        while (e.MoveNext()) yield return e.Entry;
    }

    static void AssertSameJson(JsonNode? a, JsonNode? b, string path)
    {
        switch (a)
        {
            case null: Assert.True(b is null, $"{path}: expected null, got {b?.ToJsonString()}"); break;
            case JsonArray aa:
                var ba = Assert.IsType<JsonArray>(b);
                Assert.True(aa.Count == ba.Count, $"{path}: {aa.ToJsonString()} vs {ba.ToJsonString()}");
                for (int i = 0; i < aa.Count; i++) AssertSameJson(aa[i], ba[i], $"{path}[{i}]");
                break;
            case JsonObject ao when ao.ContainsKey("float") && ao["float"] is JsonValue fv && fv.TryGetValue<double>(out double x):
                double y = b!["float"]!.GetValue<double>();
                Assert.True(x.Equals(y), $"{path}: {x:R} vs {y:R}");
                break;
            case JsonObject ao:
                var bo = Assert.IsType<JsonObject>(b);
                Assert.Equal(ao.Select(kv => kv.Key), bo.Select(kv => kv.Key));
                foreach (var (k, v) in ao) AssertSameJson(v, bo[k], $"{path}.{k}");
                break;
            default:
                Assert.True(JsonNode.DeepEquals(a, b), $"{path}: {a.ToJsonString()} vs {b?.ToJsonString()}");
                break;
        }
    }
}
