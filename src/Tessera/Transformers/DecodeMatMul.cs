using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// Vector-matrix products for decoding one token (a single input row, fp32, CPU). libtorch hands them to MKL's sgemm,
/// which on the AMD machines we measured reads the weights at about 20 GB/s and does not use a second thread; these
/// loops, with AVX-512, stream them at 30-45 GB/s from one thread. Only used when autograd records nothing, so
/// training and every other shape keep libtorch's kernels.
/// </summary>
internal static unsafe class DecodeMatMul
{
    /// <summary><c>input @ weight + bias</c> with weight [in, out] (GPT-2's Conv1D), or null where libtorch should run it.</summary>
    public static Tensor? TryConv1D(Tensor input, Tensor weight, Tensor bias)
    {
        if (!Applies(input, weight, bias)) return null;
        long k = weight.shape[0], n = weight.shape[1];
        if (input.shape[^1] != k || bias.shape[0] != n) return null;
        Tensor x = input.contiguous();
        Tensor y = empty(OutputShape(input, n), ScalarType.Float32, device: CPU);
        // y starts as the bias, then accumulates x[i] * row i of the weight: four rows per pass, each read in order.
        float* xp = Data(x), wp = Data(weight), yp = Data(y);
        new ReadOnlySpan<float>(Data(bias), (int)n).CopyTo(new Span<float>(yp, (int)n));
        int nv = (int)n / 16 * 16;
        long i = 0;
        for (; i + 4 <= k; i += 4)
        {
            float* r0 = wp + i * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
            float x0 = xp[i], x1 = xp[i + 1], x2 = xp[i + 2], x3 = xp[i + 3];
            Vector512<float> a0 = Vector512.Create(x0), a1 = Vector512.Create(x1), a2 = Vector512.Create(x2), a3 = Vector512.Create(x3);
            int j = 0;
            for (; j < nv; j += 16)
            {
                var acc = Vector512.Load(yp + j);
                acc = Vector512.FusedMultiplyAdd(a0, Vector512.Load(r0 + j), acc);
                acc = Vector512.FusedMultiplyAdd(a1, Vector512.Load(r1 + j), acc);
                acc = Vector512.FusedMultiplyAdd(a2, Vector512.Load(r2 + j), acc);
                acc = Vector512.FusedMultiplyAdd(a3, Vector512.Load(r3 + j), acc);
                acc.Store(yp + j);
            }
            for (; j < n; j++) yp[j] += x0 * r0[j] + x1 * r1[j] + x2 * r2[j] + x3 * r3[j];
        }
        for (; i < k; i++)
        {
            float* r = wp + i * n;
            for (int j = 0; j < n; j++) yp[j] += xp[i] * r[j];
        }
        x.Dispose();
        return y;
    }

    /// <summary><c>input @ weight.T</c> with weight [out, in] (nn.functional.linear without bias), or null where libtorch should run it.</summary>
    public static Tensor? TryLinear(Tensor input, Tensor weight)
    {
        if (!Applies(input, weight, null)) return null;
        long n = weight.shape[0], k = weight.shape[1];
        if (input.shape[^1] != k) return null;
        Tensor x = input.contiguous();
        Tensor y = empty(OutputShape(input, n), ScalarType.Float32, device: CPU);
        float* xp = Data(x), wp = Data(weight), yp = Data(y);
        int kv = (int)k / 16 * 16;
        long r = 0;
        // Four weight rows at a time against the same input (which stays in L1): one dot product each.
        for (; r + 4 <= n; r += 4)
        {
            float* p0 = wp + r * k, p1 = p0 + k, p2 = p1 + k, p3 = p2 + k;
            Vector512<float> s0 = Vector512<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
            for (int i = 0; i < kv; i += 16)
            {
                var xv = Vector512.Load(xp + i);
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(p0 + i), xv, s0);
                s1 = Vector512.FusedMultiplyAdd(Vector512.Load(p1 + i), xv, s1);
                s2 = Vector512.FusedMultiplyAdd(Vector512.Load(p2 + i), xv, s2);
                s3 = Vector512.FusedMultiplyAdd(Vector512.Load(p3 + i), xv, s3);
            }
            float t0 = Vector512.Sum(s0), t1 = Vector512.Sum(s1), t2 = Vector512.Sum(s2), t3 = Vector512.Sum(s3);
            for (int i = kv; i < k; i++) { t0 += p0[i] * xp[i]; t1 += p1[i] * xp[i]; t2 += p2[i] * xp[i]; t3 += p3[i] * xp[i]; }
            yp[r] = t0; yp[r + 1] = t1; yp[r + 2] = t2; yp[r + 3] = t3;
        }
        for (; r < n; r++)
        {
            float* p = wp + r * k;
            float t = 0;
            for (int i = 0; i < k; i++) t += p[i] * xp[i];
            yp[r] = t;
        }
        x.Dispose();
        return y;
    }

    /// <summary>
    /// One input row, fp32 on the CPU, a contiguous 2-D weight (and 1-D bias), and nothing for autograd to record
    /// (grad mode off, or no operand requires grad), on a CPU with AVX-512 (with 256-bit vectors the gain measured only ~6%).
    /// </summary>
    static bool Applies(Tensor input, Tensor weight, Tensor? bias) =>
        Vector512.IsHardwareAccelerated
        && input.device_type == DeviceType.CPU && weight.device_type == DeviceType.CPU
        && input.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32 && input.dim() >= 1
        && input.numel() == input.shape[^1] && weight.dim() == 2 && weight.is_contiguous()
        && (bias is null || (bias.device_type == DeviceType.CPU && bias.dtype == ScalarType.Float32 && bias.dim() == 1 && bias.is_contiguous()))
        && (!is_grad_enabled() || !(input.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false)));

    static long[] OutputShape(Tensor input, long n)
    {
        long[] shape = input.shape;
        shape[^1] = n;
        return shape;
    }

    static float* Data(Tensor t) => (float*)THSTensor_data(t.Handle);

    // TorchSharp keeps its data-pointer accessor internal; this is the export it calls (at::Tensor::data_ptr).
    [DllImport("LibTorchSharp")]
    static extern nint THSTensor_data(nint handle);
}
