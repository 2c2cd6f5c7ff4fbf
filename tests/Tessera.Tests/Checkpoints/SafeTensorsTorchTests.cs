using System.Text.Json;
using Tessera.Checkpoints;
using Tessera.Formats;
using Tessera.Formats.SafeTensors;
using Tessera.Tests.Shared;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Checkpoints;

public sealed class SafeTensorsTorchTests : IDisposable
{
    readonly TempDirectory _temp = new("tessera-ckpt-");

    public void Dispose() => _temp.Dispose();

    static nn.Module<Tensor, Tensor> Model(int hidden, long seed)
    {
        manual_seed(seed);
        return nn.Sequential(
            ("0", nn.Linear(4, hidden)),
            ("1", nn.BatchNorm1d(hidden)),
            ("2", nn.ReLU()),
            ("3", nn.Linear(hidden, 2)));
    }

    /// <summary>Same dtype, shape and bits (compares the raw bytes of CPU copies).</summary>
    static bool Same(Tensor a, Tensor b)
    {
        if (a.dtype != b.dtype || !a.shape.SequenceEqual(b.shape)) return false;
        using Tensor ca = a.detach().cpu().contiguous(), cb = b.detach().cpu().contiguous();
        return a.numel() == 0 || ca.bytes.SequenceEqual(cb.bytes);
    }

    [Fact]
    public void State_dict_of_a_sequential_round_trips_and_LoadInto_reproduces_outputs()
    {
        using var scope = NewDisposeScope();
        using var source = Model(8, seed: 1);
        source.train();
        source.call(randn(16, 4)); // moves BatchNorm running stats and num_batches_tracked off their defaults
        source.eval();
        string path = Path.Combine(_temp.Path, "model.safetensors");
        Dictionary<string, Tensor> state = source.state_dict();
        SafeTensorsTorch.Save(path, state, new Dictionary<string, string> { ["format"] = "pt" });

        Dictionary<string, Tensor> loaded = SafeTensorsTorch.Load(path);
        Assert.Equal(state.Keys, loaded.Keys);
        foreach (var (name, tensor) in state)
        {
            Assert.Equal(tensor.dtype, loaded[name].dtype);
            Assert.Equal(tensor.shape, loaded[name].shape);
            Assert.True(Same(tensor, loaded[name]), name);
        }
        using (var file = SafeTensorsFile.Open(path))
        {
            Assert.Equal("pt", file.Metadata["format"]);
            Assert.Equal(SafeTensorDType.I64, file["1.num_batches_tracked"].DType);
            Assert.Empty(file["1.num_batches_tracked"].Shape);
        }

        using var target = Model(8, seed: 2);
        target.eval();
        Tensor x = randn(5, 4);
        Assert.False(source.call(x).allclose(target.call(x)));
        PretrainedWeights.LoadInto(target, path);
        Assert.True(Same(source.call(x), target.call(x)));
        foreach (var (name, tensor) in target.state_dict())
            Assert.True(Same(tensor, state[name]), name);
        Assert.All(target.parameters(), p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void Every_supported_dtype_round_trips_bit_exactly()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = randn(3, 5),
            ["f16"] = randn(3, 5).to(float16),
            ["bf16"] = randn(3, 5).to(bfloat16),
            ["f64"] = randn(2, 2, 2, dtype: float64),
            ["i64"] = randint(-1000, 1000, [7], dtype: int64),
            ["i32"] = randint(-1000, 1000, [7], dtype: int32),
            ["i16"] = randint(-1000, 1000, [7], dtype: int16),
            ["i8"] = randint(-100, 100, [7], dtype: int8),
            ["u8"] = randint(0, 255, [7], dtype: ScalarType.Byte),
            ["bool"] = randn(9) > 0,
            ["scalar"] = tensor(2.5f),
            ["empty"] = zeros(0, 3),
            ["strided"] = randn(4, 6).t(), // not contiguous: must be written in logical order
        };
        string path = Path.Combine(_temp.Path, "dtypes.safetensors");
        SafeTensorsTorch.Save(path, tensors);
        Dictionary<string, Tensor> loaded = SafeTensorsTorch.Load(path, CPU);
        foreach (var (name, t) in tensors)
        {
            Assert.Equal(t.dtype, loaded[name].dtype);
            Assert.Equal(t.shape, loaded[name].shape);
            Assert.True(Same(t, loaded[name]), name);
        }
    }

    [Fact]
    public void LoadInto_with_mismatched_shape_names_tensor_file_and_both_shapes_and_changes_nothing()
    {
        using var scope = NewDisposeScope();
        using var small = Model(8, seed: 1);
        string path = Path.Combine(_temp.Path, "small.safetensors");
        SafeTensorsTorch.Save(path, small.state_dict());

        using var other = nn.Sequential(("0", nn.Linear(4, 8)), ("1", nn.BatchNorm1d(8)), ("2", nn.ReLU()), ("3", nn.Linear(8, 3)));
        var before = other.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var e = Assert.Throws<TesseraFormatException>(() => PretrainedWeights.LoadInto(other, path));
        Assert.Equal($"{path}: tensor '3.weight' has shape [2, 8] but parameter '3.weight' expects [3, 8]", e.Message);
        foreach (var (name, tensor) in other.state_dict())
            Assert.True(Same(tensor, before[name]), $"{name} changed although the load failed");
    }

    [Fact]
    public void LoadInto_rejects_missing_and_unused_keys_unless_allowed()
    {
        using var scope = NewDisposeScope();
        string path = Path.Combine(_temp.Path, "partial.safetensors");
        manual_seed(4);
        Tensor w = randn(8, 4);
        SafeTensorsTorch.Save(path, [new("0.weight", w), new("extra", zeros(1))]);

        using var model = Model(8, seed: 5);
        var before = model.state_dict()["0.weight"].clone();
        var e = Assert.Throws<TesseraFormatException>(() => PretrainedWeights.LoadInto(model, path));
        Assert.StartsWith($"{path}: the checkpoint has no tensor for 8 parameter(s): 0.bias, 1.weight,", e.Message);
        e = Assert.Throws<TesseraFormatException>(() => PretrainedWeights.LoadInto(model, path, new FromPretrainedOptions { AllowMissingKeys = true }));
        Assert.Equal($"{path}: the checkpoint has 1 tensor(s) the model does not use (does config.json match the weights?): extra", e.Message);
        Assert.True(Same(model.state_dict()["0.weight"], before), "a failed load must change nothing");

        var report = PretrainedWeights.LoadInto(model, path, new FromPretrainedOptions { AllowMissingKeys = true, AllowUnexpectedKeys = true });
        Assert.True(Same(model.state_dict()["0.weight"], w));
        Assert.Equal(["extra"], report.UnexpectedKeys);
        Assert.Contains("0.bias", report.MissingKeys);
    }

    [Fact]
    public void LoadInto_converts_floating_point_dtypes_and_names_both_dtypes_otherwise()
    {
        using var scope = NewDisposeScope();
        string path = Path.Combine(_temp.Path, "f64.safetensors");
        using var lin = nn.Linear(2, 2);
        manual_seed(6);
        var f64 = new Dictionary<string, Tensor> { ["weight"] = randn(2, 2, dtype: float64), ["bias"] = randn(2, dtype: float64) };
        SafeTensorsTorch.Save(path, f64);
        var report = PretrainedWeights.LoadInto(lin, path);
        Assert.Equal(["weight", "bias"], report.ConvertedKeys.Order().Reverse());
        Assert.Equal(ScalarType.Float32, lin.weight!.dtype);
        Assert.True(Same(lin.weight!, f64["weight"].to(float32)));

        string ints = Path.Combine(_temp.Path, "i32.safetensors");
        SafeTensorsTorch.Save(ints, lin.state_dict().Select(kv => KeyValuePair.Create(kv.Key, kv.Value.to(int32))));
        var e = Assert.Throws<TesseraFormatException>(() => PretrainedWeights.LoadInto(lin, ints));
        Assert.Equal($"{ints}: tensor 'weight' has dtype I32 but parameter 'weight' is Float32; only floating-point types convert", e.Message);
    }

    // ---- Cross-check against PyTorch (Debian python3-torch for /usr/bin/python3) ----

    // Reads a safetensors file with only json + struct + torch.frombuffer and prints every value as float64.
    const string PyReader = """
        import json, struct, sys, torch
        DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
              "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
        raw = open(sys.argv[1], "rb").read()
        (n,) = struct.unpack("<Q", raw[:8])
        assert n % 8 == 0, "header not padded to 8 bytes"
        header = json.loads(raw[8:8 + n].decode("utf-8"))
        data = raw[8 + n:]
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                out[name] = info
                continue
            b, e = info["data_offsets"]
            t = torch.frombuffer(bytearray(data[b:e]), dtype=DT[info["dtype"]]) if e > b else torch.empty(0, dtype=DT[info["dtype"]])
            t = t.reshape(info["shape"])
            out[name] = {"dtype": info["dtype"], "shape": list(t.shape), "values": t.double().flatten().tolist()}
        print(json.dumps(out))
        """;

    // Writes a safetensors file by hand from torch tensors, and prints the values it wrote.
    const string PyWriter = """
        import json, struct, sys, torch
        torch.manual_seed(0)
        tensors = {"w": torch.randn(3, 4), "h": torch.randn(5).half(), "b": torch.randn(2, 2).bfloat16(),
                   "ids": torch.arange(-3, 3, dtype=torch.int64), "mask": torch.tensor([True, False, True])}
        names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64", torch.bool: "BOOL"}
        header, blobs, off = {}, [], 0
        for k, t in tensors.items():
            b = t.contiguous().view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
            header[k] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
            blobs.append(b); off += len(b)
        h = json.dumps(header).encode()
        with open(sys.argv[1], "wb") as f:
            f.write(struct.pack("<Q", len(h))); f.write(h); f.write(b"".join(blobs))
        print(json.dumps({k: t.double().flatten().tolist() for k, t in tensors.items()}))
        """;

    static double[] Values(Tensor t)
    {
        using Tensor d = t.to(float64).flatten();
        return d.data<double>().ToArray();
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void PyTorch_reads_our_file_with_the_same_values()
    {
        Requires.Python("torch");
        using var scope = NewDisposeScope();
        manual_seed(11);
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = randn(3, 4),
            ["f16"] = randn(5).to(float16),
            ["bf16"] = randn(2, 3).to(bfloat16),
            ["f64"] = randn(2, dtype: float64),
            ["i64"] = randint(-50, 50, [4], dtype: int64),
            ["i32"] = randint(-50, 50, [4], dtype: int32),
            ["i16"] = randint(-50, 50, [4], dtype: int16),
            ["i8"] = randint(-50, 50, [4], dtype: int8),
            ["u8"] = randint(0, 255, [4], dtype: ScalarType.Byte),
            ["bool"] = randn(6) > 0,
            ["scalar"] = tensor(-1.25f),
            ["empty"] = zeros(0, 2),
        };
        string path = Path.Combine(_temp.Path, "to-python.safetensors");
        SafeTensorsTorch.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });

        string output = ReferencePython.Run(PyReader, path);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("pt", doc.RootElement.GetProperty("__metadata__").GetProperty("format").GetString());
        foreach (var (name, t) in tensors)
        {
            JsonElement py = doc.RootElement.GetProperty(name);
            Assert.Equal(t.shape, py.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
            double[] expected = py.GetProperty("values").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(expected, Values(t)); // exact: every dtype here is exactly representable in float64
        }
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void We_read_a_file_PyTorch_wrote_by_hand_with_the_same_values()
    {
        Requires.Python("torch");
        using var scope = NewDisposeScope();
        string path = Path.Combine(_temp.Path, "from-python.safetensors");
        string output = ReferencePython.Run(PyWriter, path);
        using var doc = JsonDocument.Parse(output);
        Dictionary<string, Tensor> loaded = SafeTensorsTorch.Load(path);
        Assert.Equal(["w", "h", "b", "ids", "mask"], loaded.Keys);
        Assert.Equal(ScalarType.BFloat16, loaded["b"].dtype);
        Assert.Equal(ScalarType.Bool, loaded["mask"].dtype);
        foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            Assert.Equal(p.Value.EnumerateArray().Select(e => e.GetDouble()).ToArray(), Values(loaded[p.Name]));
    }
}
