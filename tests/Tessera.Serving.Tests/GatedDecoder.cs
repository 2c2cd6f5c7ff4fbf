namespace Tessera.Serving.Tests;

/// <summary>A decoder whose decode steps wait for the test to open a gate (one permit per step), so tests control the pace.</summary>
internal sealed class GatedDecoder(IServingDecoder inner) : IServingDecoder
{
    public SemaphoreSlim Gate { get; } = new(0);
    public int VocabSize => inner.VocabSize;
    public int? MaxPositions => inner.MaxPositions;
    public Text.Generation.SpecialTokenIds SpecialTokenIds => inner.SpecialTokenIds;
    public IDecoderBatch CreateBatch() => new Batch(inner.CreateBatch(), Gate);
    public void Dispose() => inner.Dispose();

    /// <summary>A copy of <paramref name="folder"/> without model.onnx and with a placeholder safetensors file: served through <see cref="ServerOptions.FolderLoader"/>.</summary>
    public static string FolderFor(string folder, string into)
    {
        Directory.CreateDirectory(into);
        foreach (string file in Directory.GetFiles(folder).Where(f => Path.GetExtension(f) is ".json" or ".txt"))
            File.Copy(file, Path.Combine(into, Path.GetFileName(file)), overwrite: true);
        File.WriteAllBytes(Path.Combine(into, "model.safetensors"), []);
        return into;
    }

    sealed class Batch(IDecoderBatch inner, SemaphoreSlim gate) : IDecoderBatch
    {
        public int Count => inner.Count;
        public void Add(IReadOnlyList<int> promptIds, Span<float> logits) => inner.Add(promptIds, logits);
        public void Remove(int index) => inner.Remove(index);
        public void Dispose() => inner.Dispose();

        public void Step(ReadOnlySpan<long> nextIds, Span<float> logits)
        {
            if (!gate.Wait(TimeSpan.FromSeconds(60))) throw new TimeoutException("the test never opened the gate");
            inner.Step(nextIds, logits);
        }
    }
}
