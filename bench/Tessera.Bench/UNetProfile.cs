using System.Diagnostics;
using Tessera.Diffusion;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Bench;

/// <summary>
/// Where TorchSharp's time goes in a UNet like the bench's (<see cref="UNetBench.Config"/> with widths 32/64/128, 4.02M
/// parameters, the shapes profiled first): the whole forward (and a training
/// step: forward + MSE backward), then each operator kind on the shapes that forward meets, batch 16, each timed as the
/// median of several calls. <c>bench/pytorch_unet2d_ops.py</c> times the same list in PyTorch 1.13, so the two
/// outputs compare line by line.
/// </summary>
static class UNetProfile
{
    public static object Run(int threads, int batch, int rounds)
    {
        set_num_threads(threads);
        manual_seed(0);
        var rows = new List<(string, double, double)>();
        using (var model = new UNet2DModel(UNetBench.Config with { BlockOutChannels = [32, 64, 128] }))
        {
            model.eval();
            var x = randn(batch, 1, 28, 28);
            var t = full(batch, 500f);
            var labels = arange(batch) % 11;
            rows.Add(("unet forward (no_grad)", Median(rounds, () => { using var s = NewDisposeScope(); using var ng = no_grad(); model.call(x, t, labels); }), LastCpu));
            model.train();
            var opt = optim.Adam(model.parameters(), 1e-4);
            rows.Add(("unet train step (fwd+bwd+adam)", Median(rounds, () =>
            {
                using var s = NewDisposeScope();
                opt.zero_grad();
                var loss = nn.functional.mse_loss(model.call(x, t, labels), x);
                loss.backward();
                opt.step();
            }), LastCpu));
        }
        foreach (var (name, op) in Ops(batch)) rows.Add((name, Median(rounds * 4, op), LastCpu));
        foreach (var (name, ms, cpu) in rows) Console.WriteLine($"{name,-48} {ms,10:0.000} ms {cpu,10:0.0} cpu-ms");
        return rows.ToDictionary(r => r.Item1, r => new[] { r.Item2, r.Item3 });
    }

    static IEnumerable<(string, Action)> Ops(int b)
    {
        foreach (var (cin, cout, hw) in new[] { (64, 32, 28), (128, 64, 14), (256, 128, 7) })
        {
            var conv = nn.Conv2d(cin, cout, 3, padding: 1);
            var a = randn(b, cout, hw, hw); var c = randn(b, cin - cout, hw, hw);
            var w1 = conv.weight!.narrow(1, 0, cout).contiguous(); var w2 = conv.weight!.narrow(1, cout, cin - cout).contiguous();
            yield return ($"cat+conv3x3 {cin}->{cout} @{hw}", () => { using var s = NewDisposeScope(); using var ng = no_grad(); conv.call(cat([a, c], 1)); });
            yield return ($"split conv3x3 {cin}->{cout} @{hw}", () => { using var s = NewDisposeScope(); using var ng = no_grad(); nn.functional.conv2d(a, w1, conv.bias!, padding: [1, 1]).add_(nn.functional.conv2d(c, w2, null, padding: [1, 1])); });
        }
        foreach (var (cin, cout, hw, stride) in new[] { (1, 32, 28, 1), (32, 32, 28, 1), (64, 32, 28, 1), (96, 32, 28, 1), (32, 32, 28, 2), (32, 64, 14, 1), (64, 64, 14, 1), (128, 64, 14, 1), (96, 64, 14, 1), (64, 64, 14, 2), (64, 128, 7, 1), (128, 128, 7, 1), (256, 128, 7, 1), (192, 128, 7, 1), (32, 1, 28, 1) })
        {
            var conv = nn.Conv2d(cin, cout, 3, stride: stride, padding: 1);
            var input = randn(b, cin, hw, hw);
            yield return ($"conv3x3 {cin}->{cout} @{hw} s{stride}", () => { using var ng = no_grad(); conv.call(input).Dispose(); });
        }
        foreach (var (c, hw) in new[] { (32, 28), (64, 28), (96, 28), (64, 14), (128, 14), (192, 14), (128, 7), (256, 7) })
        {
            var gn = nn.GroupNorm(16, c);
            var input = randn(b, c, hw, hw);
            yield return ($"group_norm 16 x {c} @{hw}", () => { using var ng = no_grad(); gn.call(input).Dispose(); });
            yield return ($"silu {c} @{hw}", () => nn.functional.silu(input).Dispose());
        }
        foreach (var (heads, seq) in new[] { (2, 196), (4, 49) })
        {
            var q = randn(b, heads, seq, 32); var k = randn(b, heads, seq, 32); var v = randn(b, heads, seq, 32);
            yield return ($"sdpa {heads}x{seq}x32", () => nn.functional.scaled_dot_product_attention(q, k, v).Dispose());
            yield return ($"manual attention {heads}x{seq}x32", () =>
            {
                using var s = NewDisposeScope();
                softmax(matmul(q, k.transpose(-1, -2)) * (1 / Math.Sqrt(32)), -1).matmul(v);
            });
            var lin = nn.Linear(heads * 32, heads * 32);
            var tokens = randn(b, seq, heads * 32);
            yield return ($"linear {heads * 32} x {seq}", () => { using var ng = no_grad(); lin.call(tokens).Dispose(); });
            var img = randn(b, heads * 32, (long)Math.Sqrt(seq), (long)Math.Sqrt(seq));
            yield return ($"transpose+contig {heads * 32} @{seq}", () => img.view(b, heads * 32, seq).transpose(1, 2).contiguous().Dispose());
        }
        foreach (var (c, hw) in new[] { (64, 14), (128, 7) })
        {
            var input = randn(b, c, hw, hw);
            yield return ($"interpolate nearest x2 {c} @{hw}", () => nn.functional.interpolate(input, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest).Dispose());
            var other = randn(b, c, hw, hw);
            yield return ($"cat {c}+{c} @{hw}", () => cat([input, other], 1).Dispose());
        }
    }

    /// <summary>Median wall time; also prints the median process CPU time (robust on a loaded machine at one thread).</summary>
    static double Median(int rounds, Action run)
    {
        run();
        run();
        var times = new List<double>();
        var cpu = new List<double>();
        using var process = Process.GetCurrentProcess();
        for (int i = 0; i < rounds; i++)
        {
            process.Refresh();
            TimeSpan cpu0 = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            run();
            times.Add(clock.Elapsed.TotalMilliseconds);
            process.Refresh();
            cpu.Add((process.TotalProcessorTime - cpu0).TotalMilliseconds);
        }
        times.Sort();
        cpu.Sort();
        LastCpu = cpu[cpu.Count / 2];
        return times[times.Count / 2];
    }

    static double LastCpu;
}
