using TorchSharp.Modules;

namespace Tessera.Export.Emitters;

/// <summary>Activations that opset 17 has no single operator for, written from element-wise pieces.</summary>
internal static class ActivationEmitters
{
    /// <summary>SiLU: <c>x · sigmoid(x)</c>.</summary>
    public static string Silu(OnnxExportContext ctx, string x) => ctx.Binary("Mul", x, ctx.Unary("Sigmoid", x));

    /// <summary>
    /// GELU. Exact: <c>0.5·x·(1 + erf(x/√2))</c>. Tanh approximation:
    /// <c>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))</c>.
    /// </summary>
    public static string Gelu(OnnxExportContext ctx, GELU m, string x)
    {
        string inner;
        if (m.approximate == GELU.Approximate.tanh)
        {
            string cube = ctx.Binary("Mul", ctx.Binary("Mul", x, x), x);
            string poly = ctx.Binary("Add", x, ctx.Binary("Mul", cube, ctx.Scalar(0.044715f, "gelu_coefficient")));
            inner = ctx.Unary("Tanh", ctx.Binary("Mul", poly, ctx.Scalar((float)Math.Sqrt(2 / Math.PI), "gelu_sqrt_2_over_pi")));
        }
        else
        {
            inner = ctx.Unary("Erf", ctx.Binary("Mul", x, ctx.Scalar((float)(1 / Math.Sqrt(2)), "gelu_inv_sqrt2")));
        }
        string onePlus = ctx.Binary("Add", inner, ctx.Scalar(1f, "one"));
        return ctx.Binary("Mul", ctx.Binary("Mul", x, onePlus), ctx.Scalar(0.5f, "half"));
    }
}
