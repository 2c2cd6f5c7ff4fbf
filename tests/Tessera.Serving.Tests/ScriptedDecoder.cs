using System.Collections.Concurrent;
using Tessera.Text.Generation;

namespace Tessera.Serving.Tests;

/// <summary>
/// A decoder that "generates" a fixed script: every row's logits put all weight on the script's next id (then on EOS),
/// so greedy decoding emits exactly the script. It records the prompts it was given. Served through
/// <see cref="ServerOptions.FolderLoader"/> with a folder from <see cref="GatedDecoder.FolderFor"/>.
/// </summary>
internal sealed class ScriptedDecoder(int vocabSize, int eosId, IReadOnlyList<int> script) : IServingDecoder
{
    public ConcurrentQueue<int[]> Prompts { get; } = new();
    public int VocabSize => vocabSize;
    public int? MaxPositions => 1024;
    public SpecialTokenIds SpecialTokenIds => new([eosId]);
    public IDecoderBatch CreateBatch() => new Batch(this);
    public void Dispose() { }

    void Write(int position, Span<float> logits)
    {
        logits.Clear();
        logits[position < script.Count ? script[position] : eosId] = 100f;
    }

    sealed class Batch(ScriptedDecoder owner) : IDecoderBatch
    {
        readonly List<int> positions = [];
        public int Count => positions.Count;

        public void Add(IReadOnlyList<int> promptIds, Span<float> logits)
        {
            owner.Prompts.Enqueue([.. promptIds]);
            positions.Add(0);
            owner.Write(0, logits);
        }

        public void Step(ReadOnlySpan<long> nextIds, Span<float> logits)
        {
            for (int row = 0; row < positions.Count; row++)
            {
                positions[row]++;
                owner.Write(positions[row], logits.Slice(row * owner.VocabSize, owner.VocabSize));
            }
        }

        public void Remove(int index) => positions.RemoveAt(index);
        public void Dispose() { }
    }
}
