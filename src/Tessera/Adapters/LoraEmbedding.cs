using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Adapters;

/// <summary>
/// LoRA on an embedding table (PEFT's <c>lora.Embedding</c>): <c>y = base(ids) + scaling · (Aᵀ[ids] · Bᵀ)</c> with
/// A [r, num_embeddings] and B [embedding_dim, r]. As in PEFT, A starts at zero and B standard-normal (the reverse of
/// <see cref="LoraLinear"/>), so the adapted model starts equal to the base, and <c>lora_dropout</c> is not applied to
/// embeddings. The matrices are parameters registered on the base layer as <c>lora_embedding_A.{adapter}</c> and
/// <c>lora_embedding_B.{adapter}</c>, and saved as <c>base_model.model.{path}.lora_embedding_A</c> (no <c>.weight</c>).
/// </summary>
/// <remarks>
/// The update applies to the lookup only. When the table is also a tied output projection (GPT-2's <c>wte</c> and
/// <c>lm_head</c>, <c>tie_word_embeddings</c>), the head keeps using the base weight while the adapter is unmerged; merging
/// adds the update to the shared weight, so the head changes too and merged logits differ from unmerged ones. PEFT
/// behaves the same way (and warns about tied targets).
/// </remarks>
public sealed class LoraEmbedding : LoraLayer
{
    readonly AdapterParameters loraA = new();
    readonly AdapterParameters loraB = new();

    /// <summary>Wraps <paramref name="baseLayer"/>.</summary>
    public LoraEmbedding(Embedding baseLayer) : base(nameof(LoraEmbedding), baseLayer)
    {
        NumEmbeddings = baseLayer.weight!.shape[0];
        EmbeddingDim = baseLayer.weight.shape[1];
        baseLayer.register_module("lora_embedding_A", loraA);
        baseLayer.register_module("lora_embedding_B", loraB);
    }

    /// <summary>Rows of the table (vocabulary size).</summary>
    public long NumEmbeddings { get; }

    /// <summary>Width of an embedding.</summary>
    public long EmbeddingDim { get; }

    /// <summary>A [r, num_embeddings] of <paramref name="adapter"/>.</summary>
    public override Parameter LoraA(string adapter) => loraA[adapter];

    /// <summary>B [embedding_dim, r] of <paramref name="adapter"/>.</summary>
    public override Parameter LoraB(string adapter) => loraB[adapter];

    /// <summary>The table [num_embeddings, embedding_dim].</summary>
    public override Tensor BaseWeight => ((Embedding)BaseLayer).weight!;

    /// <summary>scaling · (B·A)ᵀ of <paramref name="adapter"/>, [num_embeddings, embedding_dim] like the table.</summary>
    public override Tensor DeltaWeight(string adapter)
    {
        using var scope = NewDisposeScope();
        return matmul(loraB[adapter], loraA[adapter]).t().mul(Scaling(adapter)).contiguous().MoveToOuterDisposeScope();
    }

    internal override IEnumerable<(string Suffix, Tensor Tensor)> SavedTensors(string adapter) =>
        [("lora_embedding_A", LoraA(adapter)), ("lora_embedding_B", LoraB(adapter))];

    private protected override void CreateAdapter(string name, LoraConfig config)
    {
        Tensor w = BaseWeight;
        // PEFT: both start standard-normal; the default init then zeroes A (B stays normal).
        var a = new Parameter(randn([config.R, NumEmbeddings], dtype: w.dtype, device: w.device));
        var b = new Parameter(randn([EmbeddingDim, config.R], dtype: w.dtype, device: w.device));
        if (config.InitLoraWeights)
            using (no_grad()) a.zero_();
        loraA.Add(name, a);
        loraB.Add(name, b);
    }

    private protected override void RemoveAdapter(string name)
    {
        loraA.Remove(name);
        loraB.Remove(name);
    }

    private protected override Tensor ComputeDelta(string name, Tensor input, bool training, double scaling, double dropout)
    {
        using var scope = NewDisposeScope();
        // Row lookup in Aᵀ [num_embeddings, r], the same gather the base layer does in its own table.
        Tensor ids = input.reshape(-1);
        Tensor afterA = loraA[name].t().index_select(0, ids).reshape([.. input.shape, loraA[name].shape[0]]);
        return matmul(afterA, loraB[name].t()).mul_(scaling).MoveToOuterDisposeScope();
    }

    private protected override void DetachContainers()
    {
        BaseLayer.register_module("lora_embedding_A", null!); // TorchSharp: registering null removes the child
        BaseLayer.register_module("lora_embedding_B", null!);
    }
}
