using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Serving.Tests;

/// <summary>KServe v2 on an ONNX classifier written with the onnx package: metadata, readiness, inference against the weights, 400s, dynamic batching.</summary>
[Collection(ServingCollection.Name)]
public class KServeApiTests(ServingModels models)
{
    static float[] Input(int seed) => [.. Enumerable.Range(0, 16).Select(i => (float)Math.Sin(seed * 16 + i))];

    static float[] Expected(float[] x, float[] w, float[] b) =>
        [.. Enumerable.Range(0, 3).Select(j => Enumerable.Range(0, 16).Sum(i => x[i] * w[i * 3 + j]) + b[j])];

    static object Request(float[] x, string datatype = "FP32", long[]? shape = null, string name = "input") =>
        new { inputs = new[] { new { name, shape = shape ?? [1, 1, 4, 4], datatype, data = x } } };

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // --ort-spinning false: ONNX Runtime's threads sleep between runs; same answers
    public async Task Infer_returns_the_models_output_and_metadata_describes_it(bool ortSpinning)
    {
        var (path, w, b) = models.Classifier();
        await using var h = await ServerHarness.StartAsync(new ServerOptions { OrtSpinning = ortSpinning }, new ServedModel("clf", path));
        Assert.Equal("""{"live":true}""", await h.Client.GetStringAsync("/v2/health/live"));
        Assert.Equal("""{"ready":true}""", await h.Client.GetStringAsync("/v2/health/ready"));
        Assert.Equal("""{"name":"clf","ready":true}""", await h.Client.GetStringAsync("/v2/models/clf/ready"));
        var meta = JsonNode.Parse(await h.Client.GetStringAsync("/v2/models/clf"))!;
        Assert.Equal("""[{"name":"input","datatype":"FP32","shape":[-1,1,4,4]}]""", meta["inputs"]!.ToJsonString());
        Assert.Equal("""[{"name":"logits","datatype":"FP32","shape":[-1,3]}]""", meta["outputs"]!.ToJsonString());

        using var response = await h.PostJson("/v2/models/clf/infer", Request(Input(1)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var output = (await ServerHarness.Json(response))["outputs"]![0]!;
        Assert.Equal("logits", (string?)output["name"]);
        Assert.Equal("FP32", (string?)output["datatype"]);
        Assert.Equal("[1,3]", output["shape"]!.ToJsonString());
        float[] got = output["data"]!.AsArray().Select(v => (float)v!).ToArray();
        float[] expected = Expected(Input(1), w, b);
        for (int j = 0; j < 3; j++) Assert.Equal(expected[j], got[j], 1e-4f);
    }

    [Fact]
    public async Task Bad_datatypes_shapes_names_and_bodies_get_400s_naming_the_input()
    {
        var (path, _, _) = models.Classifier();
        await using var h = await ServerHarness.StartAsync(new ServerOptions { MaxBodyBytes = 4096 }, new ServedModel("clf", path));
        async Task<(HttpStatusCode, string)> Post(object body)
        {
            using var r = await h.PostJson("/v2/models/clf/infer", body);
            return (r.StatusCode, (string)(await ServerHarness.Json(r))["error"]!);
        }
        var (status, error) = await Post(Request(Input(0), datatype: "INT64"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("input \"input\" has datatype INT64; the model expects FP32", error);
        (status, error) = await Post(Request(Input(0), shape: [1, 1, 2, 8]));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("input \"input\" has shape [1,1,2,8]; the model expects [-1,1,4,4]", error);
        (status, error) = await Post(Request(Input(0), shape: [2, 1, 4, 4]));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("has 16 values; shape [2,1,4,4] holds 32", error);
        (status, error) = await Post(Request(Input(0), name: "pixels"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("input \"pixels\" is not an input of the model; it takes input FP32 [-1,1,4,4]", error);
        (status, _) = await Post(Request([.. Enumerable.Repeat(0.123456789f, 16 * 64)], shape: [64, 1, 4, 4]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        using var missing = await h.PostJson("/v2/models/nope/infer", Request(Input(0)));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Concurrent_requests_in_one_window_run_as_one_batch_and_each_gets_its_own_rows()
    {
        var (path, w, b) = models.Classifier();
        await using var h = await ServerHarness.StartAsync(new ServerOptions { BatchWindow = TimeSpan.FromMilliseconds(300), MaxBatch = 16 }, new ServedModel("clf", path));
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            // Requests of 1 and 2 rows mixed: the rows are split back by offset.
            float[] x = i % 2 == 0 ? Input(i) : [.. Input(i), .. Input(i + 100)];
            using var r = await h.PostJson("/v2/models/clf/infer", Request(x, shape: [x.Length / 16, 1, 4, 4]));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            return (i, x, data: (await ServerHarness.Json(r))["outputs"]![0]!["data"]!.AsArray().Select(v => (float)v!).ToArray());
        }));
        foreach (var (i, x, data) in responses)
        {
            float[] expected = [.. Enumerable.Range(0, x.Length / 16).SelectMany(r => Expected(x[(r * 16)..(r * 16 + 16)], w, b))];
            Assert.Equal(expected.Length, data.Length);
            for (int k = 0; k < expected.Length; k++) Assert.Equal(expected[k], data[k], 1e-4f);
        }
        Assert.Equal(8, await h.Metric("tessera:infer_batch_size_sum{model_name=\"clf\"}"));
        Assert.True(await h.Metric("tessera:infer_batch_size_count{model_name=\"clf\"}") < 8, "no two requests ran as one batch");
        Assert.Equal(8, await h.Metric("tessera:infer_requests_total{model_name=\"clf\",status=\"200\"}"));
    }
}
