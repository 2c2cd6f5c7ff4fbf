using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// Vector-matrix products for decoding one token (a single input row, fp32, CPU). libtorch hands them to MKL's sgemm,
/// which on the AMD machines we measured reads the weights at about 20 GB/s and does not use a second thread; these
/// loops, with AVX-512, stream them at 30-45 GB/s per thread, and large weights are split with one helper thread when
/// libtorch may use more than one. Only used when autograd records nothing, so training and every other shape keep
/// libtorch's kernels.
/// </summary>
internal static unsafe class DecodeMatMul
{
    /// <summary>Off: every product goes to libtorch (for benchmarks comparing the two).</summary>
    internal static bool Enabled { get; set; } = true;

    /// <summary>Stopwatch ticks spent in the kernels since start (for benchmarks that split a token's time).</summary>
    internal static long KernelTicks;

    /// <summary>Weights below this many bytes run on the calling thread alone: a hand-off costs microseconds.</summary>
    const long SplitBytes = 1L << 20;

    /// <summary><c>input @ weight + bias</c> with weight [in, out] (GPT-2's Conv1D), or null where libtorch should run it.</summary>
    public static Tensor? TryConv1D(Tensor input, Tensor weight, Tensor bias)
    {
        if (!Applies(input, weight, bias)) return null;
        long k = weight.shape[0], n = weight.shape[1];
        if (input.shape[^1] != k || bias.shape[0] != n) return null;
        using Tensor x = input.contiguous();
        Tensor y = empty(OutputShape(input, n), ScalarType.Float32, device: CPU);
        float* xp = Data(x), wp = Data(weight), yp = Data(y), bp = Data(bias);
        // Threads take disjoint column ranges (multiples of 16, so vector loads stay whole).
        long half = n / 32 * 16;
        Run(k * n * 4, () => Conv1DColumns(xp, wp, bp, yp, k, n, 0, half), () => Conv1DColumns(xp, wp, bp, yp, k, n, half, n), half > 0);
        return y;
    }

    /// <summary><c>input @ weight.T + bias</c> with weight [out, in] (nn.functional.linear), or null where libtorch should run it.</summary>
    public static Tensor? TryLinear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        if (!Applies(input, weight, bias)) return null;
        long n = weight.shape[0], k = weight.shape[1];
        if (input.shape[^1] != k || (bias is not null && bias.shape[0] != n)) return null;
        using Tensor x = input.contiguous();
        Tensor y = empty(OutputShape(input, n), ScalarType.Float32, device: CPU);
        float* xp = Data(x), wp = Data(weight), yp = Data(y), bp = bias is null ? null : Data(bias);
        long half = n / 2;
        Run(k * n * 4, () => LinearRows(xp, wp, bp, yp, k, 0, half), () => LinearRows(xp, wp, bp, yp, k, half, n), half > 0);
        return y;
    }

    /// <summary>y[j0..j1) = bias + Σ_i x[i] · w[i, j0..j1): four weight rows per pass, each read in order.</summary>
    static void Conv1DColumns(float* xp, float* wp, float* bp, float* yp, long k, long n, long j0, long j1)
    {
        new ReadOnlySpan<float>(bp + j0, (int)(j1 - j0)).CopyTo(new Span<float>(yp + j0, (int)(j1 - j0)));
        long jv = j0 + (j1 - j0) / 16 * 16;
        long i = 0;
        for (; i + 4 <= k; i += 4)
        {
            float* r0 = wp + i * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
            float x0 = xp[i], x1 = xp[i + 1], x2 = xp[i + 2], x3 = xp[i + 3];
            Vector512<float> a0 = Vector512.Create(x0), a1 = Vector512.Create(x1), a2 = Vector512.Create(x2), a3 = Vector512.Create(x3);
            long j = j0;
            for (; j < jv; j += 16)
            {
                var acc = Vector512.Load(yp + j);
                acc = Vector512.FusedMultiplyAdd(a0, Vector512.Load(r0 + j), acc);
                acc = Vector512.FusedMultiplyAdd(a1, Vector512.Load(r1 + j), acc);
                acc = Vector512.FusedMultiplyAdd(a2, Vector512.Load(r2 + j), acc);
                acc = Vector512.FusedMultiplyAdd(a3, Vector512.Load(r3 + j), acc);
                acc.Store(yp + j);
            }
            for (; j < j1; j++) yp[j] += x0 * r0[j] + x1 * r1[j] + x2 * r2[j] + x3 * r3[j];
        }
        for (; i < k; i++)
        {
            float* r = wp + i * n;
            for (long j = j0; j < j1; j++) yp[j] += xp[i] * r[j];
        }
    }

    /// <summary>y[r0..r1) = w[r0..r1, :] · x (+ bias): four weight rows at a time against the same input (which stays in L1).</summary>
    static void LinearRows(float* xp, float* wp, float* bp, float* yp, long k, long r0, long r1)
    {
        long kv = k / 16 * 16;
        long r = r0;
        for (; r + 4 <= r1; r += 4)
        {
            float* p0 = wp + r * k, p1 = p0 + k, p2 = p1 + k, p3 = p2 + k;
            Vector512<float> s0 = Vector512<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
            for (long i = 0; i < kv; i += 16)
            {
                var xv = Vector512.Load(xp + i);
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(p0 + i), xv, s0);
                s1 = Vector512.FusedMultiplyAdd(Vector512.Load(p1 + i), xv, s1);
                s2 = Vector512.FusedMultiplyAdd(Vector512.Load(p2 + i), xv, s2);
                s3 = Vector512.FusedMultiplyAdd(Vector512.Load(p3 + i), xv, s3);
            }
            float t0 = Vector512.Sum(s0), t1 = Vector512.Sum(s1), t2 = Vector512.Sum(s2), t3 = Vector512.Sum(s3);
            for (long i = kv; i < k; i++) { t0 += p0[i] * xp[i]; t1 += p1[i] * xp[i]; t2 += p2[i] * xp[i]; t3 += p3[i] * xp[i]; }
            yp[r] = t0; yp[r + 1] = t1; yp[r + 2] = t2; yp[r + 3] = t3;
        }
        for (; r < r1; r++)
        {
            float* p = wp + r * k;
            float t = 0;
            for (long i = 0; i < k; i++) t += p[i] * xp[i];
            yp[r] = t;
        }
        if (bp is not null)
            for (long j = r0; j < r1; j++) yp[j] += bp[j];
    }

    /// <summary>Runs both halves: the second on the helper thread when the weight is large and libtorch may use 2+ threads; else both here.</summary>
    static void Run(long weightBytes, Action first, Action second, bool splittable)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try { RunHalves(weightBytes, first, second, splittable); }
        finally { Interlocked.Add(ref KernelTicks, System.Diagnostics.Stopwatch.GetTimestamp() - started); }
    }

    static void RunHalves(long weightBytes, Action first, Action second, bool splittable)
    {
        if (!splittable || weightBytes < SplitBytes || get_num_threads() < 2 || Environment.ProcessorCount < 2)
        {
            first();
            second();
            return;
        }
        Helper.Value.Start(second);
        try { first(); }
        finally { Helper.Value.Wait(); } // always: it releases the helper for the next caller
    }

    static readonly Lazy<HelperThread> Helper = new(() => new HelperThread());

    /// <summary>
    /// One background thread that runs the second half of a product. Callers take it in turn (a lock), so concurrent
    /// decoders stay correct; the hand-off spins briefly before sleeping because products come microseconds apart.
    /// </summary>
    sealed class HelperThread
    {
        readonly ManualResetEventSlim start = new(false, spinCount: 2000), done = new(false, spinCount: 2000);
        readonly Lock gate = new();
        Action? work;
        Exception? failure;

        public HelperThread() => new Thread(Loop) { IsBackground = true, Name = "Tessera decode product" }.Start();

        public void Start(Action second)
        {
            gate.Enter();
            work = second;
            failure = null;
            done.Reset();
            start.Set();
        }

        public void Wait()
        {
            try
            {
                done.Wait();
                if (failure is not null) throw new InvalidOperationException("decode product failed on the helper thread", failure);
            }
            finally
            {
                gate.Exit();
            }
        }

        void Loop()
        {
            while (true)
            {
                start.Wait();
                start.Reset();
                try { work!(); }
                catch (Exception e) { failure = e; }
                done.Set();
            }
        }
    }

    /// <summary>
    /// One input row, fp32 on the CPU, a contiguous 2-D weight (and 1-D bias) under 2 GiB (the limit of the span
    /// <c>Tensor.bytes</c> hands out), and nothing for autograd to record (grad mode off, or no operand requires grad),
    /// on a CPU with AVX-512 (with 256-bit vectors the gain measured only ~6%).
    /// </summary>
    static bool Applies(Tensor input, Tensor weight, Tensor? bias) =>
        Enabled && Vector512.IsHardwareAccelerated
        && input.device_type == DeviceType.CPU && weight.device_type == DeviceType.CPU
        && input.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32 && input.dim() >= 1
        && input.numel() == input.shape[^1] && weight.dim() == 2 && weight.is_contiguous() && weight.numel() <= int.MaxValue / sizeof(float)
        && (bias is null || (bias.device_type == DeviceType.CPU && bias.dtype == ScalarType.Float32 && bias.dim() == 1 && bias.is_contiguous()))
        && (!is_grad_enabled() || !(input.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false)));

    static long[] OutputShape(Tensor input, long n)
    {
        long[] shape = input.shape;
        shape[^1] = n;
        return shape;
    }

    /// <summary>
    /// The first element of a contiguous fp32 CPU tensor, through TorchSharp's public data span (<c>Tensor.bytes</c>). The
    /// tensor must stay alive while the pointer is used: the callers hold every operand until their product returns.
    /// </summary>
    static float* Data(Tensor t) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
}
