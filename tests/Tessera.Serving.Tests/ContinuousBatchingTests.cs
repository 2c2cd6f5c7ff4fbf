using System.Net;
using System.Text.Json.Nodes;
using Tessera.Runtime.Generation;

namespace Tessera.Serving.Tests;

/// <summary>Rows joining and leaving a batch get the logits they get alone; seeded requests get the same tokens alone or batched; cancelled and excess requests leave at once.</summary>
[Collection(ServingCollection.Name)]
public class ContinuousBatchingTests(ServingModels models)
{
    static readonly int[][] Prompts = [[464, 3797, 318], [40, 716, 257, 1310, 1110, 286, 262], [15496]];

    /// <summary>Logits of each prompt alone: after the prefill, then after each fed id (the ids are fixed).</summary>
    static List<float[]> Alone(IServingDecoder decoder, int[] prompt, int steps)
    {
        using var batch = decoder.CreateBatch();
        var result = new List<float[]>();
        var logits = new float[decoder.VocabSize];
        batch.Add(prompt, logits);
        result.Add([.. logits]);
        for (int s = 0; s < steps; s++)
        {
            batch.Step([Feed(prompt, s)], logits);
            result.Add([.. logits]);
        }
        return result;
    }

    static long Feed(int[] prompt, int step) => (prompt[0] * 7 + step * 13) % 50000;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Rows_joining_and_leaving_get_their_single_row_logits_within_1e_4(bool generic)
    {
        using IServingDecoder decoder = generic ? new BackendServingDecoder(OrtCausalLM.Load(models.LanguageModel)) : OrtServingDecoder.Load(models.LanguageModel);
        using var reference = OrtServingDecoder.Load(models.LanguageModel);
        var expected = Prompts.Select(p => Alone(reference, p, 3)).ToArray();
        int vocab = decoder.VocabSize;
        double worst = 0;
        void Check(float[] got, int row, int seq, int position)
        {
            for (int v = 0; v < vocab; v++) worst = Math.Max(worst, Math.Abs(got[row * vocab + v] - expected[seq][position][v]));
        }
        using var batch = decoder.CreateBatch();
        var logits = new float[3 * vocab];
        var fed = new int[3];
        batch.Add(Prompts[0], logits); Check(logits, 0, 0, 0);                  // A joins
        batch.Step([Feed(Prompts[0], fed[0]++)], logits); Check(logits, 0, 0, 1);
        batch.Add(Prompts[1], logits); Check(logits, 0, 1, 0);                  // B (longer) joins
        batch.Step([Feed(Prompts[0], fed[0]++), Feed(Prompts[1], fed[1]++)], logits);
        Check(logits, 0, 0, 2); Check(logits, 1, 1, 1);
        batch.Add(Prompts[2], logits); Check(logits, 0, 2, 0);                  // C (one token) joins
        batch.Step([Feed(Prompts[0], fed[0]++), Feed(Prompts[1], fed[1]++), Feed(Prompts[2], fed[2]++)], logits);
        Check(logits, 0, 0, 3); Check(logits, 1, 1, 2); Check(logits, 2, 2, 1);
        batch.Remove(0);                                                           // A leaves
        batch.Step([Feed(Prompts[1], fed[1]++), Feed(Prompts[2], fed[2]++)], logits);
        Check(logits, 0, 1, 3); Check(logits, 1, 2, 2);
        Assert.True(worst < 1e-4, $"max abs logit difference batched vs alone: {worst}");
    }

    [Fact]
    public async Task Seeded_and_greedy_requests_get_the_same_text_batched_as_alone()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions { MaxBatch = 8 }, new ServedModel("lm", models.LanguageModel));
        object Body(int i) => i % 3 == 0
            ? new { model = "lm", prompt = new string('a', 1 + i) + " story", max_tokens = 10 + i, temperature = 0 }
            : new { model = "lm", prompt = "Once upon" + new string('!', i), max_tokens = 12, temperature = 0.9, top_k = 40, seed = 100 + i };
        async Task<string> Text(int i)
        {
            using var r = await h.PostJson("/v1/completions", Body(i));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            return (string)(await ServerHarness.Json(r))["choices"]![0]!["text"]!;
        }
        string[] together = await Task.WhenAll(Enumerable.Range(0, 6).Select(Text));
        for (int i = 0; i < 6; i++) Assert.Equal(await Text(i), together[i]);
    }

    [Fact]
    public async Task A_cancelled_stream_leaves_the_batch_and_frees_its_slot()
    {
        using var temp = new TempDirectory("tessera-serve-gated-");
        var gated = new GatedDecoder(OrtServingDecoder.Load(models.LanguageModel));
        string folder = GatedDecoder.FolderFor(models.LanguageModel, temp.File("gated"));
        await using var h = await ServerHarness.StartAsync(new ServerOptions { MaxBatch = 1, MaxQueue = 4, FolderLoader = _ => gated }, new ServedModel("lm", folder));
        using (var cancel = new CancellationTokenSource())
        {
            var response = await h.PostJson("/v1/completions", new { model = "lm", prompt = "Hi", max_tokens = 200, stream = true }, cancel: cancel.Token);
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
            Assert.StartsWith("data: {", await reader.ReadLineAsync(cancel.Token)); // the prefill's token, before any step
            cancel.Cancel();
            response.Dispose();
        }
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await h.Metric("tessera:request_success_total{model_name=\"lm\",finished_reason=\"abort\"}") != 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the cancelled stream never left the batch");
            gated.Gate.Release();  // one step at a time until the scheduler sees the cancellation
            await Task.Delay(20);
        }
        Assert.True(await h.Metric("tessera:generation_tokens_total{model_name=\"lm\"}") < 200);
        Assert.Equal(0, await h.Metric("tessera:num_requests_running{model_name=\"lm\"}"));
        gated.Gate.Release(100);
        using var next = await h.PostJson("/v1/completions", new { model = "lm", prompt = "Hi", max_tokens = 3 });
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal("length", (string?)(await ServerHarness.Json(next))["choices"]![0]!["finish_reason"]);
    }

    [Fact]
    public async Task Beyond_max_queue_requests_get_429_with_Retry_After_while_the_rest_complete()
    {
        using var temp = new TempDirectory("tessera-serve-flood-");
        var gated = new GatedDecoder(OrtServingDecoder.Load(models.LanguageModel));
        string folder = GatedDecoder.FolderFor(models.LanguageModel, temp.File("gated"));
        await using var h = await ServerHarness.StartAsync(new ServerOptions { MaxBatch = 1, MaxQueue = 2, FolderLoader = _ => gated }, new ServedModel("lm", folder));
        // The gate is closed: at most 1 running + 2 waiting; every other request must be refused without waiting for a step.
        var flood = Enumerable.Range(0, 20).Select(_ => h.PostJson("/v1/completions", new { model = "lm", prompt = "Hi", max_tokens = 4 })).ToList();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (flood.Count(t => t.IsCompleted) < 17)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {flood.Count(t => t.IsCompleted)} of 20 answered while the model was busy");
            await Task.WhenAny(flood.Where(t => !t.IsCompleted).Append(Task.Delay(1000)));
        }
        var refused = flood.Where(t => t.IsCompleted).Select(t => t.Result).ToList();
        Assert.True(refused.Count >= 17);
        foreach (var r in refused)
        {
            Assert.Equal((HttpStatusCode)429, r.StatusCode);
            Assert.Equal("1", r.Headers.GetValues("Retry-After").Single());
            var error = (await ServerHarness.Json(r))["error"]!;
            Assert.Equal("rate_limit_exceeded", (string?)error["code"]);
            Assert.Contains("--max-queue 2", (string?)error["message"]);
        }
        gated.Gate.Release(1000);
        var statuses = (await Task.WhenAll(flood)).Select(r => (int)r.StatusCode).ToList();
        Assert.Equal(20, statuses.Count(s => s is 200 or 429));
        Assert.InRange(statuses.Count(s => s == 200), 1, 3);
        using var after = await h.PostJson("/v1/completions", new { model = "lm", prompt = "Hi", max_tokens = 2 });
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }
}
