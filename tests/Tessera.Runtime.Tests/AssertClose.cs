namespace Tessera.Runtime.Tests;

internal static class AssertClose
{
    /// <summary>Asserts element-wise <c>|actual - expected| &lt;= atol + rtol * |expected|</c>.</summary>
    public static void Equal(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float atol = 1e-5f, float rtol = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(actual[i] - expected[i]) <= atol + rtol * MathF.Abs(expected[i]),
                $"element {i}: expected {expected[i]}, got {actual[i]} (atol {atol}, rtol {rtol})");
    }
}
