using Tessera.Data;
using Tessera.Training.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Training;

/// <summary>
/// fastai's learning-rate finder (Leslie Smith's LR range test): trains for a few iterations with an exponentially
/// growing learning rate, records the smoothed loss, suggests a learning rate, and puts the weights back.
/// </summary>
public static class LrFinder
{
    /// <summary>
    /// Runs the range test on <paramref name="module"/>. The optimizer comes from
    /// <see cref="TrainingModuleBase.ConfigureOptimizers"/> (its schedule is ignored); each iteration sets
    /// <c>lr_i = start * (end / start)^(i / (n - 1))</c> on every parameter group, then zero_grad, training step,
    /// backward, optimizer step. The loader is replayed epoch after epoch when it has fewer batches than iterations.
    /// The module's state dict (parameters and buffers) and training mode are restored afterwards, also on failure,
    /// and the optimizer is disposed.
    /// </summary>
    /// <returns>The recorded curve and suggestions; fewer than <see cref="LrFinderOptions.NumIterations"/> points when it diverged.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="InvalidOperationException">The loader yields no batches.</exception>
    public static LrFinderResult Run<TBatch>(TrainingModule<TBatch> module, IDataLoader<TBatch> loader, LrFinderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(loader);
        options ??= new LrFinderOptions();
        Validate(options);

        if (options.Device is not null) module.to(options.Device);
        Device device = options.Device ?? module.parameters().Select(p => p.device).FirstOrDefault() ?? CPU;

        var snapshot = Snapshot(module);
        bool wasTraining = module.training;
        var optimizer = module.ConfigureOptimizers().Optimizer;
        var lrs = new List<double>();
        var smoothed = new List<double>();
        var raw = new List<double>();
        bool diverged = false;
        try
        {
            module.train();
            int n = options.NumIterations;
            double avg = 0, best = double.PositiveInfinity;
            for (int epoch = 0; lrs.Count < n && !diverged; epoch++)
            {
                int batchIndex = 0;
                foreach (var loaded in loader.Epoch(epoch))
                {
                    int i = lrs.Count;
                    double lr = options.StartLr * Math.Pow(options.EndLr / options.StartLr, (double)i / (n - 1));
                    double loss = Step(module, optimizer, loaded, batchIndex++, device, lr);

                    avg = options.Beta * avg + (1 - options.Beta) * loss;
                    double smooth = avg / (1 - Math.Pow(options.Beta, i + 1));
                    lrs.Add(lr);
                    raw.Add(loss);
                    smoothed.Add(smooth);

                    if (smooth < best) best = smooth;
                    if (!double.IsFinite(smooth) || smooth > options.StopDivergenceFactor * best)
                    {
                        diverged = lrs.Count < n;
                        break;
                    }
                    if (lrs.Count >= n) break;
                }
                if (batchIndex == 0) throw new InvalidOperationException($"The loader yielded no batches in epoch {epoch}.");
            }
        }
        finally
        {
            using (NewDisposeScope()) optimizer.zero_grad(); // each .grad access makes a handle; the scope frees them
            optimizer.Dispose(); // frees its state (e.g. Adam's moments); the parameters stay alive
            Restore(module, snapshot);
            module.train(wasTraining);
        }
        return new LrFinderResult(lrs, smoothed, raw, diverged, skipStart: options.NumIterations / 10, skipEnd: 5);
    }

    static double Step<TBatch>(TrainingModule<TBatch> module, optim.Optimizer optimizer, TBatch loaded, int batchIndex, Device device, double lr)
    {
        using var scope = NewDisposeScope();
        var batch = module.TransferBatchToDevice(loaded, device);
        try
        {
            LrScheduling.Apply(optimizer, lr);
            optimizer.zero_grad();
            var loss = module.TrainingStep(batch, batchIndex);
            loss.backward();
            optimizer.step();
            return loss.detach().cpu().to_type(ScalarType.Float64).item<double>();
        }
        finally
        {
            (batch as IDisposable)?.Dispose();
            if (!ReferenceEquals(batch, loaded)) (loaded as IDisposable)?.Dispose();
        }
    }

    static Dictionary<string, Tensor> Snapshot(nn.Module module)
    {
        var copy = new Dictionary<string, Tensor>();
        using var _ = no_grad();
        foreach (var (name, tensor) in module.state_dict())
            copy[name] = tensor.clone().DetachFromDisposeScope(); // under no_grad: a plain copy, no autograd link
        return copy;
    }

    static void Restore(nn.Module module, Dictionary<string, Tensor> snapshot)
    {
        using (no_grad())
        {
            foreach (var (name, tensor) in module.state_dict())
                if (snapshot.TryGetValue(name, out var saved)) tensor.copy_(saved);
        }
        foreach (var saved in snapshot.Values) saved.Dispose();
    }

    static void Validate(LrFinderOptions o)
    {
        if (!(o.StartLr > 0) || !double.IsFinite(o.StartLr))
            throw new ArgumentOutOfRangeException(nameof(o.StartLr), o.StartLr, "StartLr must be positive and finite.");
        if (!(o.EndLr > o.StartLr) || !double.IsFinite(o.EndLr))
            throw new ArgumentOutOfRangeException(nameof(o.EndLr), o.EndLr, $"EndLr must be finite and above StartLr ({o.StartLr}).");
        if (o.NumIterations < 2)
            throw new ArgumentOutOfRangeException(nameof(o.NumIterations), o.NumIterations, "NumIterations must be at least 2.");
        if (!(o.Beta >= 0 && o.Beta < 1))
            throw new ArgumentOutOfRangeException(nameof(o.Beta), o.Beta, "Beta must lie in [0, 1).");
        if (!(o.StopDivergenceFactor > 1))
            throw new ArgumentOutOfRangeException(nameof(o.StopDivergenceFactor), o.StopDivergenceFactor, "StopDivergenceFactor must exceed 1.");
    }
}
