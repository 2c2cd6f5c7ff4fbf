using System.Diagnostics;
using Tessera.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Bench;

/// Issue 15 part 4: where a resnet step's time goes under bf16 (TorchSharp has no profiler): forward+backward of single
/// ops at the resnet's shapes (batch 64, Fashion-MNIST 28x28) and of the whole model, fp32 vs bf16 variants, each the
/// median of interleaved repetitions.
static class Bf16Profile
{
    public static object Run(int threads, int reps)
    {
        set_num_threads(threads);
        var rows = new List<object>();
        void Row(string name, params (string Variant, Action Step)[] variants)
        {
            foreach (var v in variants) { v.Step(); v.Step(); }
            var times = variants.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r < reps; r++)
                for (int i = 0; i < variants.Length; i++)
                {
                    var clock = Stopwatch.StartNew();
                    variants[i].Step();
                    times[i].Add(clock.Elapsed.TotalMilliseconds);
                }
            var med = times.Select(t => t.OrderBy(x => x).ElementAt(t.Count / 2)).ToArray();
            Console.WriteLine($"{name,-40} " + string.Join(" | ", variants.Select((v, i) => $"{v.Variant} {med[i],8:0.000} ms")));
            rows.Add(new { name, variants = variants.Select((v, i) => new { v.Variant, ms = med[i] }) });
        }
        Action FwdBwd(Func<Tensor, Tensor> f, Tensor x) => () =>
        {
            using var scope = NewDisposeScope();
            var y = f(x);
            y.backward([ones_like(y)]);
        };

        foreach (var (c, hw) in new[] { (16, 28), (32, 14), (64, 7) })
        {
            manual_seed(0);
            var conv32 = nn.Conv2d(c, c, 3, padding: 1, bias: false);
            var conv16 = nn.Conv2d(c, c, 3, padding: 1, bias: false); conv16.to(ScalarType.BFloat16);
            var x32 = randn(64, c, hw, hw).requires_grad_();
            var x16 = x32.detach().to_type(ScalarType.BFloat16).requires_grad_();
            Row($"conv3x3 {c}->{c} {hw}x{hw}", ("fp32", FwdBwd(conv32.forward, x32)), ("bf16", FwdBwd(conv16.forward, x16)));

            var bn32 = nn.BatchNorm2d(c);
            var bn16 = nn.BatchNorm2d(c); bn16.to(ScalarType.BFloat16);
            Row($"batchnorm train {c} {hw}x{hw}", ("fp32", FwdBwd(bn32.forward, x32)), ("bf16 in, fp32 params", FwdBwd(bn32.forward, x16)),
                ("bf16 in+params", FwdBwd(bn16.forward, x16)),
                ("cast around fp32 bn", FwdBwd(t => bn32.forward(t.to_type(ScalarType.Float32)).to_type(ScalarType.BFloat16), x16)));
            Row($"relu {c} {hw}x{hw}", ("fp32", FwdBwd(t => nn.functional.relu(t), x32)), ("bf16", FwdBwd(t => nn.functional.relu(t), x16)));
        }

        Tensor images = randn(64, 1, 28, 28);
        var labels = randint(0, 10, [64]);
        Action Model(ResNet m, ScalarType input, bool channelsLast = false) => () =>
        {
            using var scope = NewDisposeScope();
            var x = images.to_type(input);
            var loss = nn.functional.cross_entropy(m.call(x).to_type(ScalarType.Float32), labels);
            loss.backward();
        };
        manual_seed(0);
        var r32 = new ResNet(new ResNetConfig()); r32.train();
        var rMixed = new ResNet(new ResNetConfig()); rMixed.train();
        foreach (var m in rMixed.modules().Where(m => !m.children().Any() && m is not TorchSharp.Modules.BatchNorm2d)) m.to(ScalarType.BFloat16);
        var r16 = new ResNet(new ResNetConfig()); r16.train(); r16.to(ScalarType.BFloat16);
        Row("resnet fwd+bwd b64", ("fp32", Model(r32, ScalarType.Float32)), ("bf16, fp32 BN params", Model(rMixed, ScalarType.BFloat16)),
            ("all bf16", Model(r16, ScalarType.BFloat16)));
        return new { threads, reps, rows };
    }
}
