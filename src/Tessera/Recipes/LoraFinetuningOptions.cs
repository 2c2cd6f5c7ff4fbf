namespace Tessera.Recipes;

/// <summary>Settings of <see cref="LoraFinetuning.Run"/> (<c>tessera finetune</c>); every default is the CLI's.</summary>
public sealed record LoraFinetuningOptions
{
    /// <summary>The base model folder (config.json, safetensors, tokenizer).</summary>
    public required string ModelFolder { get; init; }

    /// <summary>JSONL file: one JSON object per line with a text field, or with prompt and completion fields.</summary>
    public required string Data { get; init; }

    /// <summary>The JSON field holding the text (loss on all tokens; entries packed into blocks).</summary>
    public string TextField { get; init; } = "text";

    /// <summary>The prompt field: when the first line has both it and <see cref="CompletionField"/>, the loss covers the completion only (examples padded, not packed).</summary>
    public string PromptField { get; init; } = "prompt";

    /// <summary>The completion field of prompt/completion lines.</summary>
    public string CompletionField { get; init; } = "completion";

    /// <summary>LoRA rank r.</summary>
    public int R { get; init; } = 8;

    /// <summary>lora_alpha.</summary>
    public double Alpha { get; init; } = 16;

    /// <summary>lora_dropout.</summary>
    public double Dropout { get; init; } = 0.05;

    /// <summary>Target module names; null picks c_attn for GPT-2 and q_proj, v_proj for the Llama family (PEFT's defaults).</summary>
    public IReadOnlyList<string>? TargetModules { get; init; }

    /// <summary>Optimizer steps.</summary>
    public long MaxSteps { get; init; } = 200;

    /// <summary>Blocks per batch.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Tokens per packed block, or longest prompt + completion (capped at the model's context).</summary>
    public int BlockSize { get; init; } = 128;

    /// <summary>Peak learning rate (AdamW without weight decay, warmup, cosine to a tenth).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Validate every N steps (on every 20th line, held out).</summary>
    public int ValidateEvery { get; init; } = 50;

    /// <summary>Random seed.</summary>
    public int Seed { get; init; }

    /// <summary>Output folder: <c>adapter/</c> (PEFT layout), <c>checkpoints/</c>, <c>metrics.csv</c>, <c>README.md</c>.</summary>
    public string OutputDir { get; init; } = "runs/ft";

    /// <summary>Continue from <c>{OutputDir}/checkpoints/last</c> (saved every <see cref="ValidateEvery"/> steps).</summary>
    public bool Resume { get; init; }

    /// <summary>Replace the run already in <see cref="OutputDir"/> (see <see cref="RunOutput.Prepare"/>); without it a non-empty folder is refused unless resuming.</summary>
    public bool Overwrite { get; init; }

    /// <summary>cpu, cuda, cuda:N or auto.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>The trainer's <see cref="Training.TrainerOptions.Precision"/>: "32-true" or "bf16-mixed" (the saved adapter or model stays fp32).</summary>
    public string Precision { get; init; } = "32-true";

    /// <summary>Classification (<c>--task classify</c>): CSV column or JSONL field of the text.</summary>
    public string TextColumn { get; init; } = "text";

    /// <summary>Classification: CSV column or JSONL field of the label (strings or integers).</summary>
    public string LabelColumn { get; init; } = "label";

    /// <summary>Classification: held-out file in the same format; null holds out every 10th example of <see cref="Data"/> once there are at least 20.</summary>
    public string? ValData { get; init; }

    /// <summary>Classification: fine-tune every weight instead of LoRA adapters (for comparison); saves a full model folder.</summary>
    public bool Full { get; init; }

    /// <summary>
    /// How training is spread over processes; null: one process. With a <see cref="Distributed.DataParallelStrategy"/>
    /// <see cref="BatchSize"/> is per process, and only rank 0 writes the output folder and reports.
    /// </summary>
    public Training.TrainingStrategy? Strategy { get; init; }
}
