using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Tessera.Adapters;
using Tessera.Formats.Onnx;
using Tessera.Text;
using Tessera.Transformers;

namespace Tessera.Cli.Tests.Hostile;

/// <summary>
/// Crafted files a user could download, one group per file kind, each run through the real <c>tessera</c> as a child
/// process: it must exit 1 with one line on stderr naming the file and the field, print no stack trace, stay under
/// 1 GB of resident memory, and (for the regex cases) finish within 10 s.
/// </summary>
[Trait("Category", "Slow")]
public class HostileFilesTests : IDisposable
{
    const long OneGigabyte = 1L << 30;
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    static readonly TimeSpan RegexLimit = TimeSpan.FromSeconds(10);

    readonly TempDirectory temp = new("tessera-hostile-");
    public void Dispose() => temp.Dispose();

    /// <summary>A tiny GPT-2 over the 257-id byte vocabulary (config.json, model.safetensors, tokenizer files).</summary>
    string TinyLm(string name, int vocabSize = 257)
    {
        string folder = Path.Combine(temp.Path, name);
        TorchSharp.torch.manual_seed(1);
        using var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = vocabSize, NPositions = 64, NEmbd = 16, NLayer = 2, NHead = 2 });
        model.SavePretrained(folder);
        ByteVocabulary.WriteTokenizerFiles(folder, 64);
        return folder;
    }

    static void EditJson(string path, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    static string Copy(string folder, string name)
    {
        string copy = Path.Combine(Path.GetDirectoryName(folder)!, name);
        Directory.CreateDirectory(copy);
        foreach (string file in Directory.GetFiles(folder, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(copy, Path.GetRelativePath(folder, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return copy;
    }

    /// <summary>
    /// The regex bound: 10 s beyond what the same command takes on the same files with a harmless input or pattern, so
    /// that a loaded test machine's process start and model load are not counted (a backtracking pattern without a
    /// timeout runs for minutes).
    /// </summary>
    static TimeSpan RegexBound(ChildRun baseline)
    {
        Assert.True(baseline.Code >= 0, baseline.ToString());
        return baseline.Elapsed + RegexLimit;
    }

    /// <summary>Exit 1, one stderr line with every expected fragment, no stack trace, under 1 GB (and within the time given).</summary>
    static void AssertNamedError(ChildRun run, TimeSpan? within, params string[] expected)
    {
        Assert.True(run.Code == 1, run.ToString());
        string err = run.Err.Trim();
        Assert.True(err.Split('\n').Length == 1, run.ToString());
        Assert.StartsWith("error: ", err);
        foreach (string part in expected) Assert.True(err.Contains(part, StringComparison.Ordinal), $"expected \"{part}\" in: {err}");
        Assert.DoesNotContain("   at ", run.Err + run.Out);
        Assert.True(run.PeakBytes > 0, "VmHWM of the child was never read");
        Assert.True(run.PeakBytes < OneGigabyte, run.ToString());
        if (within is { } limit) Assert.True(run.Elapsed < limit, run.ToString());
    }

    [Fact]
    public void Config_json_sizes_that_do_not_match_the_weights()
    {
        string lm = TinyLm("lm");
        foreach (var (field, value) in new (string, int)[] { ("vocab_size", 1_000_000_000), ("n_positions", 1_000_000_000), ("n_layer", 1_000_000), ("n_embd", 4096) })
        {
            string bad = Copy(lm, $"lm-{field}");
            EditJson(Path.Combine(bad, "config.json"), json => json[field] = value);
            AssertNamedError(ChildCli.Run(Limit, "generate", bad, "--prompt", "hi", "--max-new-tokens", "1"), null,
                Path.Combine(bad, "config.json"), $"{field} {value} does not match model.safetensors");
        }

        string cnn = Path.Combine(temp.Path, "cnn");
        using (var model = new Tessera.Models.Cnn(new Tessera.Models.CnnConfig { Hidden = 8 })) Tessera.Models.PretrainedModels.SavePretrained(model, cnn);
        string hidden = Copy(cnn, "cnn-hidden");
        EditJson(Path.Combine(hidden, "config.json"), json => json["hidden"] = 1_000_000_000);
        AssertNamedError(ChildCli.Run(Limit, "export", hidden, "--out", Path.Combine(temp.Path, "hidden.onnx")), null,
            Path.Combine(hidden, "config.json"), "hidden 1000000000 does not match model.safetensors (fc1.weight is [8, 3136], not [1000000000, 3136])");
        string image = Copy(cnn, "cnn-image");
        EditJson(Path.Combine(image, "config.json"), json => json["image_size"] = 65536);
        AssertNamedError(ChildCli.Run(Limit, "export", image, "--out", Path.Combine(temp.Path, "image.onnx")), null,
            Path.Combine(image, "config.json"), "image_size");
        string pre = Copy(cnn, "cnn-preprocessor");
        File.WriteAllText(Path.Combine(pre, "preprocessor_config.json"), """{"height": 100000, "width": 28, "num_channels": 1}""");
        AssertNamedError(ChildCli.Run(Limit, "export", pre, "--out", Path.Combine(temp.Path, "pre.onnx")), null,
            "preprocessor_config.json", "height 100000");
    }

    [Fact]
    public void Generation_config_and_tokenizer_json()
    {
        string lm = TinyLm("lm");
        string eos = Copy(lm, "lm-eos");
        File.WriteAllText(Path.Combine(eos, "generation_config.json"), """{"eos_token_id": 2.5}""");
        AssertNamedError(ChildCli.Run(Limit, "generate", eos, "--prompt", "hi", "--max-new-tokens", "1"), null,
            "generation_config.json", "eos_token_id");

        string sequence = Copy(lm, "lm-sequence");
        EditJson(Path.Combine(sequence, "tokenizer.json"), json => json["pre_tokenizer"] = new JsonObject { ["type"] = "Sequence" });
        AssertNamedError(ChildCli.Run(Limit, "generate", sequence, "--prompt", "hi", "--max-new-tokens", "1"), null,
            "tokenizer.json", "pretokenizers");

        string split = Copy(lm, "lm-split");
        EditJson(Path.Combine(split, "tokenizer.json"), json => json["pre_tokenizer"] = JsonNode.Parse("""{"type": "Split", "pattern": {"Regex": "(a+)+$"}, "behavior": "Isolated", "invert": false}"""));
        TimeSpan bound = RegexBound(ChildCli.Run(Limit, "generate", split, "--prompt", "x", "--max-new-tokens", "1")); // nothing to backtrack on
        AssertNamedError(ChildCli.Run(Limit, "generate", split, "--prompt", new string('a', 40) + "!", "--max-new-tokens", "1"), bound,
            "tokenizer.json", "(a+)+$");

        // A model of 100 ids with the 257-id byte tokenizer: 'z' is id 122.
        string small = TinyLm("lm-small-vocab", vocabSize: 100);
        AssertNamedError(ChildCli.Run(Limit, "generate", small, "--prompt", "zz", "--max-new-tokens", "1"), null,
            "tokenizer.json", "config.json vocab_size", "has 100 ids");
    }

    [Fact]
    public void Adapter_config_json()
    {
        string lm = TinyLm("lm");
        string adapter = Path.Combine(temp.Path, "adapter");
        using (var model = Gpt2LMHeadModel.FromPretrained(lm))
            LoraModel.Wrap(model, new LoraConfig(R: 4, TargetModules: ["c_attn"])).SavePretrained(adapter);

        string rank = Copy(adapter, "adapter-r");
        EditJson(Path.Combine(rank, "adapter_config.json"), json => json["r"] = 1_000_000_000);
        AssertNamedError(ChildCli.Run(Limit, "merge", lm, rank, "--out", Path.Combine(temp.Path, "merged-r")), null,
            Path.Combine(rank, "adapter_config.json"), "r 1000000000 does not match adapter_model.safetensors");

        string regex = Copy(adapter, "adapter-regex");
        EditJson(Path.Combine(regex, "adapter_config.json"), json => json["target_modules"] = "([a-z._0-9]+)+X");
        string plain = Copy(adapter, "adapter-plain-regex");
        EditJson(Path.Combine(plain, "adapter_config.json"), json => json["target_modules"] = "no_such_module");
        TimeSpan bound = RegexBound(ChildCli.Run(Limit, "merge", lm, plain, "--out", Path.Combine(temp.Path, "merged-plain")));
        AssertNamedError(ChildCli.Run(Limit, "merge", lm, regex, "--out", Path.Combine(temp.Path, "merged-regex")), bound,
            "adapter_config.json", "target_modules");
    }

    [Fact]
    public void Trainer_state_json_and_optimizer_bin()
    {
        string lm = TinyLm("lm");
        string data = Path.Combine(temp.Path, "data.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 16).Select(i => $$"""{"text": "line {{i}} of the data"}"""));
        string run = Path.Combine(temp.Path, "run");
        string[] finetune = ["finetune", lm, "--data", data, "--batch-size", "4", "--block-size", "16", "--validate-every", "1"];
        var first = CliRunner.Run([.. finetune, "--max-steps", "1", "--out", run]);
        Assert.True(first.Code == 0, first.Err);
        string last = Path.Combine("checkpoints", "last");
        Assert.True(File.Exists(Path.Combine(run, last, "trainer_state.json")), string.Join(", ", Directory.GetFileSystemEntries(run, "*", SearchOption.AllDirectories)));

        ChildRun Resume(string copy) => ChildCli.Run(Limit, [.. finetune, "--max-steps", "2", "--out", copy, "--resume"]);

        string rng = Copy(run, "run-rng");
        EditJson(Path.Combine(rng, last, "trainer_state.json"), json => json["rng_state"] = "not base64!");
        AssertNamedError(Resume(rng), null, "trainer_state.json", "rng_state");

        string step = Copy(run, "run-step");
        EditJson(Path.Combine(step, last, "trainer_state.json"), json => json["global_step"] = "many");
        AssertNamedError(Resume(step), null, "trainer_state.json", "global_step");

        string optimizer = Copy(run, "run-optimizer");
        var bytes = new byte[4096];
        new Random(7).NextBytes(bytes);
        File.WriteAllBytes(Path.Combine(optimizer, last, "optimizer.bin"), bytes);
        AssertNamedError(Resume(optimizer), null, "optimizer.bin");
    }

    [Fact]
    public void Onnx_initializer_whose_dims_overflow()
    {
        string path = Path.Combine(temp.Path, "overflow.onnx");
        var graph = new GraphProto { Name = "overflow" };
        graph.Input.Add(Value("x", 4));
        graph.Output.Add(Value("y", 4));
        var w = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(new byte[64]) };
        w.Dims.Add([1L << 40, 1L << 40]);
        graph.Initializer.Add(w);
        var node = new NodeProto { OpType = "MatMul", Name = "mm" };
        node.Input.Add(["x", "w"]);
        node.Output.Add("y");
        graph.Node.Add(node);
        var model = new ModelProto { IrVersion = 8, ProducerName = "tessera-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        File.WriteAllBytes(path, model.ToByteArray());

        AssertNamedError(ChildCli.Run(Limit, "quantize", path, "--out", Path.Combine(temp.Path, "q.onnx"), "--no-eval"), null,
            "overflow.onnx", "initializer 'w'", "overflow");
    }

    static ValueInfoProto Value(string name, long width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
