// The README's quick start (tests/Tessera.Cli.Tests/PackagingTests.cs runs the README's copy against the packages).
using Tessera.Data;
using Tessera.Training;
using Tessera.Training.Callbacks;
using TorchSharp;
using static TorchSharp.torch;

var train = new DataLoader<Batch>(FashionMnist.Load(train: true), new DataLoaderOptions { BatchSize = 128, Shuffle = true });
var val = new DataLoader<Batch>(FashionMnist.Load(train: false), new DataLoaderOptions { BatchSize = 1000 });
var trainer = new Trainer(new TrainerOptions
{
    MaxEpochs = 2,
    Callbacks = [new ModelCheckpoint("runs/mlp/checkpoints", monitor: "val_acc", mode: MonitorMode.Max), new EarlyStopping("val_loss"), new ProgressDisplay()],
});
var mlp = new LitMlp();
trainer.Fit(mlp, train, val);
Console.WriteLine($"val_acc {trainer.Validate(mlp, val)["val_acc"]:F4}");

// Types come after the top-level statements in Program.cs.
sealed class LitMlp : TrainingModule
{
    private readonly nn.Module<Tensor, Tensor> net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10));
    public LitMlp() : base(nameof(LitMlp)) => RegisterComponents();

    public override Tensor TrainingStep(Batch batch, int batchIndex) => nn.functional.cross_entropy(net.call(batch.Inputs), batch.Targets);

    public override void ValidationStep(Batch batch, int batchIndex)
    {
        var logits = net.call(batch.Inputs);
        Log("val_loss", nn.functional.cross_entropy(logits, batch.Targets), batch.Size);
        Log("val_acc", logits.argmax(1).eq(batch.Targets).sum().ToDouble() / batch.Size, batch.Size);
    }

    public override OptimizerConfig ConfigureOptimizers() => new(optim.Adam(parameters(), 1e-3));
}
