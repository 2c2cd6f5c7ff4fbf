using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Tessera.Bench;

/// Issue 15 part 4, step 1: does bf16 pay off on this CPU with TorchSharp 0.107 (no autocast)? Times raw matmul/conv,
/// then a cnn step and an LM-shaped (Linear/GELU stack, 1024 tokens, vocab 2000) step in three forms: fp32,
/// pure bf16 forward+backward, and a hand-made "bf16-mixed" step (fp32 master weights copied into a bf16 replica,
/// fp32 loss, bf16 grads copied into fp32 master grads, SGD on fp32). Not the Trainer: the Trainer has no precision yet.
static class Bf16MicroBench
{
    public sealed record Row(string Case, double Fp32Ms, double Bf16Ms, double? MixedMs);

    static double Time(Action step, int n)
    {
        for (int i = 0; i < 2; i++) step();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < n; i++) step();
        return sw.Elapsed.TotalMilliseconds / n;
    }

    static Module<Tensor, Tensor> Cnn() => Sequential(Conv2d(1, 32, 3, padding: 1), ReLU(), Conv2d(32, 64, 3, padding: 1), ReLU(),
        MaxPool2d(2), Flatten(), Linear(64 * 14 * 14, 128), ReLU(), Linear(128, 10));

    static Module<Tensor, Tensor> LmShaped() => Sequential(Linear(128, 512), GELU(), Linear(512, 128), Linear(128, 512), GELU(),
        Linear(512, 128), Linear(128, 2000));

    static Row Step(string name, Func<Module<Tensor, Tensor>> make, Tensor x, int n)
    {
        var m32 = make();
        var m16 = make();
        m16.to(ScalarType.BFloat16);
        var p32 = m32.parameters().ToArray();
        var p16 = m16.parameters().ToArray();
        var opt = optim.SGD(p32, 0.01);
        var x16 = x.to(ScalarType.BFloat16);
        double fp32 = Time(() => { using var s = NewDisposeScope(); opt.zero_grad(); m32.forward(x).square().mean().backward(); opt.step(); }, n);
        double bf16 = Time(() => { using var s = NewDisposeScope(); m16.zero_grad(); m16.forward(x16).square().mean().backward(); }, n);
        double mixed = Time(() =>
        {
            using var s = NewDisposeScope();
            using (no_grad()) for (int i = 0; i < p32.Length; i++) p16[i].copy_(p32[i]);
            m16.zero_grad();
            m16.forward(x16).to(ScalarType.Float32).square().mean().backward();
            for (int i = 0; i < p32.Length; i++) p32[i].grad = p16[i].grad!.to(ScalarType.Float32);
            opt.step();
        }, n);
        Console.WriteLine($"{name,-34} fp32 {fp32,8:F1} ms | bf16 fwd+bwd {bf16,8:F1} ms ({fp32 / bf16:F2}x) | bf16-mixed {mixed,8:F1} ms ({fp32 / mixed:F2}x)");
        return new Row(name, fp32, bf16, mixed);
    }

    public static object Run(int threads, int rounds)
    {
        torch.set_num_threads(threads);
        var rows = new List<Row>();
        using (var s = NewDisposeScope())
        {
            var a = randn(512, 512); var b = randn(512, 512);
            var a16 = a.to(ScalarType.BFloat16); var b16 = b.to(ScalarType.BFloat16);
            double m32 = Time(() => { using var t = NewDisposeScope(); matmul(a, b); }, 30);
            double m16 = Time(() => { using var t = NewDisposeScope(); matmul(a16, b16); }, 30);
            Console.WriteLine($"{"matmul 512x512",-34} fp32 {m32,8:F2} ms | bf16 {m16,8:F2} ms ({m32 / m16:F2}x)");
            rows.Add(new Row("matmul 512x512", m32, m16, null));
            var c = randn(64, 32, 28, 28); var w = randn(64, 32, 3, 3);
            var c16 = c.to(ScalarType.BFloat16); var w16 = w.to(ScalarType.BFloat16);
            double k32 = Time(() => { using var t = NewDisposeScope(); functional.conv2d(c, w, padding: [1, 1]); }, 10);
            double k16 = Time(() => { using var t = NewDisposeScope(); functional.conv2d(c16, w16, padding: [1, 1]); }, 10);
            Console.WriteLine($"{"conv3x3 32->64 b64 28x28 forward",-34} fp32 {k32,8:F1} ms | bf16 {k16,8:F1} ms ({k32 / k16:F2}x)");
            rows.Add(new Row("conv3x3 32->64 b64 28x28 forward", k32, k16, null));
            for (int r = 0; r < rounds; r++)
            {
                rows.Add(Step("cnn step b64", Cnn, randn(64, 1, 28, 28), 5));
                rows.Add(Step("lm-shaped step 1024 tok d128 v2000", LmShaped, randn(1024, 128), 5));
            }
        }
        return new { threads, rows };
    }
}
