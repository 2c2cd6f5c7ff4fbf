using Tessera.Tests.Shared;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Tests.Transformers;

/// <summary>
/// <see cref="CausalLanguageModel.CausalLMLoss"/> against PyTorch computing transformers' rule (logits[:, :-1] scored
/// against labels[:, 1:], -100 ignored): the value and the gradient with respect to the logits.
/// </summary>
public sealed class CausalLMLossTests : IDisposable
{
    readonly TempDirectory temp = new("tessera-lmloss-");
    public void Dispose() => temp.Dispose();

    const string Reference = """
        import sys, numpy as np, torch
        b, s, v = 3, 7, 11
        logits = torch.tensor(np.fromfile(sys.argv[1], "<f4").reshape(b, s, v), requires_grad=True)
        labels = torch.tensor(np.fromfile(sys.argv[2], "<i8").reshape(b, s))
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, v), labels[:, 1:].reshape(-1), ignore_index=-100)
        loss.backward()
        np.array([loss.item()], "<f4").tofile(sys.argv[3])
        logits.grad.numpy().astype("<f4").tofile(sys.argv[4])
        """;

    [Fact]
    public void Loss_and_gradient_match_pytorch_with_ignored_positions()
    {
        Requires.Python("torch");
        using var scope = NewDisposeScope();
        var generator = new Random(5);
        float[] logitValues = Enumerable.Range(0, 3 * 7 * 11).Select(_ => (float)(generator.NextDouble() * 6 - 3)).ToArray();
        // Prompt-style masking (-100 in the first positions) and one padded row end.
        long[] labelValues = Enumerable.Range(0, 3 * 7).Select(i => i % 7 < 2 || i == 20 ? -100L : generator.Next(11)).ToArray();
        string logitsPath = Path.Combine(temp.Path, "logits"), labelsPath = Path.Combine(temp.Path, "labels");
        string lossPath = Path.Combine(temp.Path, "loss"), gradPath = Path.Combine(temp.Path, "grad");
        ReferencePython.WriteFloats(logitsPath, logitValues);
        ReferencePython.WriteLongs(labelsPath, labelValues);
        ReferencePython.Run(Reference, logitsPath, labelsPath, lossPath, gradPath);

        Tensor logits = tensor(logitValues).reshape(3, 7, 11).requires_grad_();
        Tensor loss = CausalLanguageModel.CausalLMLoss(logits, tensor(labelValues).reshape(3, 7));
        loss.backward();

        Assert.Equal(ReferencePython.ReadFloats(lossPath)[0], loss.item<float>(), 5);
        float[] expectedGrad = ReferencePython.ReadFloats(gradPath), grad = logits.grad!.contiguous().data<float>().ToArray();
        Assert.Equal(expectedGrad.Length, grad.Length);
        Assert.All(Enumerable.Range(0, grad.Length), i => Assert.True(Math.Abs(expectedGrad[i] - grad[i]) <= 1e-6, $"grad[{i}] {grad[i]} vs {expectedGrad[i]}"));
    }
}
