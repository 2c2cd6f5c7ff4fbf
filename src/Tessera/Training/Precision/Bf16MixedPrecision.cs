using TorchSharp;
using TorchSharp.Modules;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Training.Precision;

/// <summary>
/// "bf16-mixed" without autocast (TorchSharp 0.107 has none): the classic master-weights recipe. While <c>Fit</c> runs,
/// every layer that owns fp32 parameters, except normalization layers, computes with a bf16 working copy of them; the
/// fp32 master weights, their fp32 gradients and the optimizer's state stay fp32. Each step: bf16 forward and
/// backward, bf16 gradients cast into the fp32 master gradients (summed there over accumulated batches), clipping and
/// the optimizer on fp32, masters copied back into the bf16 copies in place. The training module's direct
/// <c>Module&lt;Tensor, Tensor&gt;</c> children get their floating inputs cast to bf16 and their outputs cast back to
/// fp32, so a loss computed from their output is computed in fp32.
/// </summary>
/// <remarks>
/// The module's root reports the masters as its parameters while connected (<see cref="TrainingModuleBase.MasterWeights"/>):
/// <c>ConfigureOptimizers</c> builds the optimizer over them and <c>state_dict()</c> (checkpoints) returns them. All
/// masters live in one fp32 buffer and all working copies and their gradients in one bf16 buffer each, so the per-step
/// copies are three tensor operations instead of three per parameter.
/// </remarks>
internal sealed class Bf16MixedPrecision : PrecisionPlugin
{
    public const string PluginName = "bf16-mixed";

    readonly bool fused;
    readonly List<Slot> slots = [];
    readonly List<nn.Module> leaves = [];
    readonly List<Action> removeHooks = [];
    Tensor? masters32, grads32, working16, grads16;
    bool gradsPending;

    /// <param name="fused">False: copy parameter by parameter (the same numbers; kept to measure what fusing saves).</param>
    public Bf16MixedPrecision(bool fused = true) => this.fused = fused;

    public override string Name => PluginName;

    /// <summary>Parameters now computed in bf16 (0 when not connected).</summary>
    public int ConvertedParameters => slots.Count;

    // One converted parameter: the master (fp32, what the optimizer owns) and the working copy (bf16, what the layer
    // computes with), each with a gradient that is a view into the shared buffers.
    sealed record Slot(nn.Module Leaf, string Name, Parameter Master, Parameter Working, Tensor MasterGrad, Tensor WorkingGrad);

    static bool KeepsFp32(nn.Module m) => m is NormBase or LayerNorm or GroupNorm or RmsNorm;

    public override void Connect(TrainingModuleBase module)
    {
        if (slots.Count > 0) throw new InvalidOperationException("bf16-mixed is already connected to a module");
        // No dispose scope here: Module.to creates the layers' new parameters in the current scope, which would free them.
        using var noGrad = no_grad();
        // Every layer that owns fp32 parameters itself, also one with sublayers (a Linear carrying LoRA's lora_A/lora_B):
        // left in fp32 it would meet bf16 inputs. Module.to converts a layer with its sublayers, so a layer whose subtree
        // holds a normalization layer (kept fp32) cannot be converted this way: refuse it by name rather than run mixed.
        var excluded = module.FullPrecisionModules.SelectMany(m => m.modules()).ToHashSet(ReferenceEqualityComparer.Instance);
        var owners = module.modules().Where(m => !KeepsFp32(m) && !excluded.Contains(m)
            && m.named_parameters(recurse: false).Any()
            && m.named_parameters(recurse: false).All(p => p.parameter.dtype == ScalarType.Float32)).ToList();
        foreach (var owner in owners.Where(m => m.children().Any()))
            if (owner.modules().FirstOrDefault(m => m != owner && KeepsFp32(m)) is { } norm)
                throw new NotSupportedException(
                    $"bf16-mixed: layer '{owner.GetName()}' owns parameters and also holds the normalization layer '{norm.GetName()}', which must stay fp32; " +
                    "move its own parameters into a sublayer or train with 32-true");
        leaves.AddRange(owners);
        var originals = leaves.SelectMany(l => l.named_parameters(recurse: false).Select(p => (Leaf: l, p.name, p.parameter))).ToList();
        if (originals.Count == 0) { leaves.Clear(); return; }
        long total = originals.Sum(o => o.parameter.numel());
        var device = originals[0].parameter.device;
        masters32 = empty(total, ScalarType.Float32, device);
        grads32 = zeros(total, ScalarType.Float32, device);
        working16 = empty(total, ScalarType.BFloat16, device);
        grads16 = zeros(total, ScalarType.BFloat16, device);

        var masters = new List<(nn.Module Leaf, string Name, Parameter Master, Tensor Grad, long Offset)>();
        long offset = 0;
        foreach (var (leaf, name, p) in originals)
        {
            long n = p.numel();
            var master = new Parameter(Segment(masters32, offset, n, p.shape), p.requires_grad);
            master.copy_(p);
            masters.Add((leaf, name, master, Segment(grads32, offset, n, p.shape), offset));
            offset += n;
        }
        // TorchSharp's Module.to replaces (and frees) each parameter of the layer, whatever field holds it.
        foreach (var leaf in leaves) leaf.to(ScalarType.BFloat16);
        var masterOf = new Dictionary<IntPtr, Parameter>();
        foreach (var (leaf, name, master, masterGrad, start) in masters)
        {
            var working = leaf.named_parameters(recurse: false).First(p => p.name == name).parameter;
            long n = master.numel();
            using (var view = Segment(working16, start, n, master.shape)) working.set_(view);
            var workingGrad = Segment(grads16, start, n, master.shape);
            if (master.requires_grad)
            {
                master.grad = masterGrad;
                working.grad = workingGrad;
            }
            slots.Add(new Slot(leaf, name, master, working, masterGrad, workingGrad));
            masterOf[working.Handle] = master;
        }
        working16.copy_(masters32);
        module.MasterWeights = masterOf;
        foreach (var child in module.children().OfType<nn.Module<Tensor, Tensor>>().Where(c => !excluded.Contains(c)))
        {
            var pre = child.register_forward_pre_hook((_, x) => x.dtype == ScalarType.Float32 ? x.to_type(ScalarType.BFloat16) : null!);
            var post = child.register_forward_hook((_, _, y) => y.dtype == ScalarType.BFloat16 ? y.to_type(ScalarType.Float32) : null!);
            removeHooks.Add(() => { pre.remove(); post.remove(); });
        }
        gradsPending = false;
    }

    static Tensor Segment(Tensor flat, long offset, long count, long[] shape)
    {
        using var part = flat.narrow(0, offset, count);
        return part.view(shape);
    }

    public override void CheckOptimizer(optim.Optimizer optimizer)
    {
        var working = slots.ToDictionary(s => s.Working.Handle, s => s);
        foreach (var p in optimizer.parameters())
            if (working.TryGetValue(p.Handle, out var slot))
                throw new InvalidOperationException(
                    $"bf16-mixed: the optimizer holds the bf16 working copy of '{slot.Name}' ({slot.Leaf.GetName()}); build it over the training " +
                    "module's own parameters() (the fp32 master weights while Fit runs), not over a submodule's");
    }

    public override void OnWeightsLoaded() => CopyMastersToWorking();

    public override void AfterBackward()
    {
        if (slots.Count == 0) return;
        using var noGrad = no_grad();
        RebindGradients(working: false);
        if (fused)
        {
            if (gradsPending) grads32!.add_(grads16!);
            else grads32!.copy_(grads16!);
            grads16!.zero_();
        }
        else
        {
            foreach (var s in slots)
            {
                if (!s.Master.requires_grad) continue;
                if (gradsPending) s.MasterGrad.add_(s.WorkingGrad);
                else s.MasterGrad.copy_(s.WorkingGrad);
                s.WorkingGrad.zero_();
            }
        }
        gradsPending = true;
    }

    // Autograd adds into an existing .grad in place, so the views set in Connect collect the gradients. A zero_grad that
    // sets gradients to null (on the training module, whose parameters are the masters) would detach them: put them back.
    // Masters are checked after backward (the optimizer reads them next), working copies after the step (before the next
    // backward, which would otherwise allocate a gradient outside the buffer).
    void RebindGradients(bool working)
    {
        foreach (var s in slots)
        {
            if (!s.Master.requires_grad) continue;
            if (working) { using var g = s.Working.grad; if (g is null) s.Working.grad = s.WorkingGrad; }
            else { using var g = s.Master.grad; if (g is null) s.Master.grad = s.MasterGrad; }
        }
    }

    public override void AfterOptimizerStep()
    {
        CopyMastersToWorking();
        using (no_grad()) RebindGradients(working: true);
        gradsPending = false;
    }

    void CopyMastersToWorking()
    {
        if (slots.Count == 0) return;
        using var noGrad = no_grad();
        if (fused) working16!.copy_(masters32!);
        else foreach (var s in slots) s.Working.copy_(s.Master);
    }

    public override void Disconnect(TrainingModuleBase module)
    {
        foreach (var remove in removeHooks) remove();
        removeHooks.Clear();
        module.MasterWeights = null;
        if (slots.Count > 0)
        {
            using var noGrad = no_grad();
            foreach (var leaf in leaves) leaf.to(ScalarType.Float32);
            foreach (var s in slots)
                s.Leaf.named_parameters(recurse: false).First(p => p.name == s.Name).parameter.copy_(s.Master);
        }
        // The masters stay alive: the trainer's optimizer still refers to them.
        foreach (var s in slots) s.WorkingGrad.Dispose();
        slots.Clear();
        leaves.Clear();
        working16?.Dispose();
        grads16?.Dispose();
        working16 = grads16 = null;
        masters32 = grads32 = null;
    }
}
