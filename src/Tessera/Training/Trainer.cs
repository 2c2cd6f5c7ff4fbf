using System.Runtime.InteropServices;
using Tessera.Data;
using Tessera.Training.Precision;
using Tessera.Training.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Training;

/// <summary>
/// Runs training, validation, test and prediction loops for a <see cref="TrainingModule{TBatch}"/>
/// (Lightning's Trainer). The module owns the science; everything optional is a <see cref="Callback"/>.
/// </summary>
public sealed class Trainer
{
    readonly Dictionary<string, double> callbackMetrics = new();
    readonly Dictionary<string, double> pendingStepMetrics = new();
    readonly MetricCollector trainCollector = new();
    readonly MetricCollector evalCollector = new();
    readonly List<(IMetricsLogger Logger, Exception Error)> failedLoggers = [];
    readonly IMetricsLogger[] loggers;
    readonly PrecisionPlugin precision;
    double[] groupScales = [];
    bool epochCompleted;

    /// <summary>Creates a trainer; <paramref name="options"/> defaults to <c>new TrainerOptions()</c>.</summary>
    public Trainer(TrainerOptions? options = null)
    {
        Options = options ?? new TrainerOptions();
        if (Options.AccumulateGradBatches < 1) throw new ArgumentOutOfRangeException(nameof(options), "AccumulateGradBatches must be >= 1");
        if (Options.CheckValEveryNEpochs < 1) throw new ArgumentOutOfRangeException(nameof(options), "CheckValEveryNEpochs must be >= 1");
        if (Options.MaxEpochs is null && Options.MaxSteps is null) throw new ArgumentException("set MaxEpochs or MaxSteps", nameof(options));
        Device = ResolveDevice(Options.Device);
        precision = PrecisionPlugin.Create(Options.Precision);
        loggers = [.. Options.Loggers, .. AmbientLoggers.Current.Where(l => !Options.Loggers.Contains(l))];
    }

    /// <summary>The options this trainer runs with.</summary>
    public TrainerOptions Options { get; }

    /// <summary>How the run is spread over processes (<see cref="TrainerOptions.Strategy"/>).</summary>
    public TrainingStrategy Strategy => Options.Strategy;

    /// <summary>True in the process that logs and writes checkpoints: always in a single-process run, rank 0 in a distributed one.</summary>
    public bool IsGlobalZero => Options.Strategy.IsGlobalZero;

    /// <summary>The device modules and batches are moved to.</summary>
    public Device Device { get; }

    /// <summary>Current epoch (0-based).</summary>
    public int CurrentEpoch { get; private set; }

    /// <summary>Optimizer steps taken so far.</summary>
    public long GlobalStep { get; private set; }

    /// <summary>Index of the next training batch within the current epoch.</summary>
    public int BatchIndex { get; private set; }

    /// <summary>Training batches per epoch (after <see cref="TrainerOptions.LimitTrainBatches"/>), once Fit has started.</summary>
    public int TrainBatchesPerEpoch { get; private set; }

    /// <summary>Optimizer steps the whole run will take (from MaxSteps, MaxEpochs and batches per epoch); known once Fit has started.</summary>
    public long EstimatedTotalSteps
    {
        get
        {
            long perEpoch = (TrainBatchesPerEpoch + Options.AccumulateGradBatches - 1) / Options.AccumulateGradBatches;
            long byEpochs = Options.MaxEpochs is int e ? e * perEpoch : long.MaxValue;
            return Math.Min(byEpochs, Options.MaxSteps ?? long.MaxValue);
        }
    }

    /// <summary>What the trainer is doing now.</summary>
    public TrainerStage Stage { get; private set; }

    /// <summary>Set by a callback (or the module) to end <c>Fit</c> after the current batch.</summary>
    public bool ShouldStop { get; set; }

    /// <summary>The optimizer in use during <c>Fit</c>.</summary>
    public optim.Optimizer? Optimizer { get; private set; }

    /// <summary>The learning-rate schedule in use during <c>Fit</c>, if any.</summary>
    public ILrSchedule? Schedule { get; private set; }

    /// <summary>Latest metrics (step values and epoch means) that callbacks monitor.</summary>
    public IReadOnlyDictionary<string, double> CallbackMetrics => callbackMetrics;

    /// <summary>Metric names the module asked to show in the progress display.</summary>
    public IReadOnlySet<string> ProgressBarMetrics => trainCollector.ProgressBar;

    /// <summary>True at optimizer steps where step metrics go to the loggers.</summary>
    public bool IsLoggingStep => GlobalStep % Math.Max(1, Options.LogEveryNSteps) == 0;

    /// <summary>Where to resume: the epoch and batch the next training batch would be.</summary>
    public (int Epoch, int Batch) ResumePosition => epochCompleted ? (CurrentEpoch + 1, 0) : (CurrentEpoch, BatchIndex);

    /// <summary>The module being run, while one is.</summary>
    public TrainingModuleBase? Module { get; private set; }

    /// <summary>
    /// Loggers that threw, with what they threw. A logger that throws is reported once (a warning line on
    /// <see cref="TrainerOptions.ErrorOutput"/>) and gets no more calls from this trainer; the run goes on.
    /// </summary>
    public IReadOnlyList<(IMetricsLogger Logger, Exception Error)> FailedLoggers => failedLoggers;

    /// <summary>The loggers this trainer sends to: <see cref="TrainerOptions.Loggers"/>, then those of <see cref="AmbientLoggers"/> at construction.</summary>
    public IReadOnlyList<IMetricsLogger> Loggers => loggers;

    /// <summary>Sends metrics to every logger at the current global step (callbacks use this, e.g. the LR monitor).</summary>
    public void LogMetrics(IReadOnlyDictionary<string, double> metrics)
    {
        foreach (var (k, v) in metrics) callbackMetrics[k] = v;
        EachLogger(logger => logger.LogMetrics(metrics, GlobalStep));
    }

    // Like Serilog's sinks: one broken logger (a full disk, a dead MLflow server) must not end a long run.
    void EachLogger(Action<IMetricsLogger> call)
    {
        if (!IsGlobalZero) return; // one process logs for the whole group
        foreach (var logger in loggers)
        {
            if (failedLoggers.Exists(f => ReferenceEquals(f.Logger, logger))) continue;
            try
            {
                call(logger);
            }
            catch (Exception e)
            {
                failedLoggers.Add((logger, e));
                (Options.ErrorOutput ?? Console.Error).WriteLine(
                    $"warning: logger {logger.GetType().Name} failed and is off for the rest of the run: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <summary>
    /// Trains <paramref name="module"/> on <paramref name="train"/>, validating on <paramref name="val"/> when given.
    /// With <paramref name="checkpointPath"/>, first restores weights, optimizer, RNG and data position from that trainer checkpoint.
    /// </summary>
    public void Fit<TBatch>(TrainingModule<TBatch> module, IDataLoader<TBatch> train, IDataLoader<TBatch>? val = null, string? checkpointPath = null)
    {
        train = Strategy.Shard(train);
        if (val is not null) val = Strategy.Shard(val);
        TrainBatchesPerEpoch = Options.LimitTrainBatches is int limit ? Math.Min(limit, train.BatchesPerEpoch) : train.BatchesPerEpoch;
        if (TrainBatchesPerEpoch == 0) throw new ArgumentException("the training loader yields no batches", nameof(train));
        Setup(module);
        precision.Connect(module); // before ConfigureOptimizers: the optimizer must own what the precision steps
        try
        {
            var config = module.ConfigureOptimizers();
            precision.CheckOptimizer(config.Optimizer);
            Optimizer = config.Optimizer;
            Schedule = config.Schedule;
            groupScales = LrScheduling.GroupScales(Optimizer); // before a checkpoint overwrites the groups' rates
            CurrentEpoch = 0; GlobalStep = 0; BatchIndex = 0; epochCompleted = false; ShouldStop = false;
            if (checkpointPath is not null)
            {
                TrainerCheckpoint.Restore(this, module, checkpointPath);
                precision.OnWeightsLoaded();
                EachLogger(logger => logger.OnResume(GlobalStep));
            }
        }
        catch
        {
            precision.Disconnect(module);
            throw;
        }

        EachLogger(logger => logger.LogHyperparameters(module.Hyperparameters));
        Each(c => c.OnFitStart(this, module));
        try
        {
            while (!ShouldStop && !StepLimitReached && (Options.MaxEpochs is null || CurrentEpoch < Options.MaxEpochs))
            {
                bool validatedAtEnd = RunTrainEpoch(module, train, val);
                if (val is not null && !validatedAtEnd && ((CurrentEpoch + 1) % Options.CheckValEveryNEpochs == 0 || ShouldStop || StepLimitReached))
                    RunEvaluation(module, val, TrainerStage.Validating);
                var epochMeans = new Dictionary<string, double>(trainCollector.EpochMeans(onlyFlagged: true));
                Strategy.ReduceMetrics(epochMeans);
                foreach (var (k, v) in epochMeans) callbackMetrics[k] = v;
                epochCompleted = BatchIndex >= TrainBatchesPerEpoch;
                Each(c => c.OnTrainEpochEnd(this, module));
                if (!epochCompleted) break; // stopped inside the epoch
                CurrentEpoch++;
                BatchIndex = 0;
                epochCompleted = false;
            }
            Strategy.SyncBuffers(module); // every process ends with the weights the run saves
            Strategy.CheckReplicas(module);
        }
        catch (Exception e)
        {
            Each(c => c.OnException(this, module, e));
            Strategy.OnFailure(e);
            throw;
        }
        finally
        {
            precision.Disconnect(module); // callbacks and the caller see the fp32 weights again
            Stage = TrainerStage.Idle;
            Each(c => c.OnFitEnd(this, module));
            EachLogger(logger => logger.Flush());
            module.Trainer = null;
            module.Collector = null;
        }
    }

    bool StepLimitReached => Options.MaxSteps is long max && GlobalStep >= max;

    /// <summary>Runs one training epoch from <see cref="BatchIndex"/>; returns true when it validated after its last batch.</summary>
    bool RunTrainEpoch<TBatch>(TrainingModule<TBatch> module, IDataLoader<TBatch> train, IDataLoader<TBatch>? val)
    {
        Stage = TrainerStage.Training;
        module.train();
        trainCollector.Reset();
        module.Collector = trainCollector;
        Each(c => c.OnTrainEpochStart(this, module));
        var optimizer = Optimizer!;
        var parameters = module.parameters().Where(p => p.requires_grad).ToArray();
        int accumulate = Options.AccumulateGradBatches;
        bool validatedAtEnd = false;

        foreach (var rawBatch in train.Epoch(CurrentEpoch, BatchIndex))
        {
            int index = BatchIndex;
            if (index >= TrainBatchesPerEpoch) { Dispose(rawBatch); break; }
            validatedAtEnd = false;
            double lossValue;
            long batchSize;
            using (var scope = NewDisposeScope())
            {
                var batch = module.TransferBatchToDevice(rawBatch, Device);
                batchSize = batch is Batch b ? b.Size : 1;
                Each(c => c.OnTrainBatchStart(this, module, index));
                var loss = module.TrainingStep(batch, index);
                if (!ReferenceEquals(batch, rawBatch)) Dispose(batch);
                lossValue = loss.ToDouble();
                // Stop before backward: one NaN gradient in an optimizer step makes every weight NaN.
                if (Options.StopOnNonFiniteLoss && !double.IsFinite(lossValue))
                    throw new NonFiniteLossException(lossValue, CurrentEpoch, index, GlobalStep);
                (accumulate == 1 ? loss : loss / accumulate).backward();
                precision.AfterBackward();
                bool stepNow = (index + 1) % accumulate == 0 || index + 1 == TrainBatchesPerEpoch;
                if (stepNow)
                {
                    Strategy.ReduceGradients(parameters);
                    Each(c => c.OnBeforeOptimizerStep(this, module));
                    if (Options.GradientClipNorm is double maxNorm) nn.utils.clip_grad_norm_(parameters, maxNorm);
                    if (Schedule is not null) LrScheduling.Apply(optimizer, Schedule.LearningRate(GlobalStep), groupScales);
                    optimizer.step();
                    precision.AfterOptimizerStep();
                    optimizer.zero_grad();
                    GlobalStep++;
                }
                trainCollector.Add("train_loss", lossValue, batchSize, progressBar: true, onEpoch: false);
                foreach (var (k, v) in trainCollector.Step) pendingStepMetrics[k] = v;
                trainCollector.Step.Clear();
                if (stepNow && IsLoggingStep) FlushStepMetrics();
            }
            Dispose(rawBatch);
            BatchIndex = index + 1;
            Each(c => c.OnTrainBatchEnd(this, module, lossValue, index, batchSize));

            if (val is not null && Options.ValCheckIntervalBatches is int every && BatchIndex % every == 0)
            {
                RunEvaluation(module, val, TrainerStage.Validating);
                // Validated at the last batch this epoch will run (its end, or the step limit / a stop): no second pass.
                validatedAtEnd = BatchIndex == TrainBatchesPerEpoch || ShouldStop || StepLimitReached;
                Stage = TrainerStage.Training;
                module.train();
                module.Collector = trainCollector;
            }
            ShouldStop = Strategy.AnyStop(ShouldStop);
            if (ShouldStop || StepLimitReached) break;
        }
        if (pendingStepMetrics.Count > 0) FlushStepMetrics();
        return validatedAtEnd;
    }

    void FlushStepMetrics()
    {
        Strategy.ReduceMetrics(pendingStepMetrics);
        pendingStepMetrics["epoch"] = CurrentEpoch;
        LogMetrics(pendingStepMetrics);
        pendingStepMetrics.Clear();
    }

    /// <summary>Runs the validation loop once and returns the epoch-mean metrics.</summary>
    public IReadOnlyDictionary<string, double> Validate<TBatch>(TrainingModule<TBatch> module, IDataLoader<TBatch> val)
    {
        bool standalone = Module is null;
        if (standalone) Setup(module);
        try { return RunEvaluation(module, val, TrainerStage.Validating); }
        finally { if (standalone) Teardown(module); }
    }

    /// <summary>Runs the test loop once and returns the epoch-mean metrics.</summary>
    public IReadOnlyDictionary<string, double> Test<TBatch>(TrainingModule<TBatch> module, IDataLoader<TBatch> test)
    {
        Setup(module);
        try { return RunEvaluation(module, test, TrainerStage.Testing); }
        finally { Teardown(module); }
    }

    /// <summary>Runs <see cref="TrainingModule{TBatch}.PredictStep"/> over every batch; the caller disposes the returned tensors (on the CPU).</summary>
    public List<Tensor> Predict<TBatch>(TrainingModule<TBatch> module, IDataLoader<TBatch> data)
    {
        Setup(module);
        Stage = TrainerStage.Predicting;
        module.eval();
        var results = new List<Tensor>();
        try
        {
            using var noGrad = no_grad();
            int index = 0;
            foreach (var rawBatch in data.Epoch(0))
            {
                using var scope = NewDisposeScope();
                var batch = module.TransferBatchToDevice(rawBatch, Device);
                results.Add(module.PredictStep(batch, index++).detach().cpu().MoveToOuterDisposeScope());
                if (!ReferenceEquals(batch, rawBatch)) Dispose(batch);
                Dispose(rawBatch);
            }
            return results;
        }
        finally { Teardown(module); }
    }

    IReadOnlyDictionary<string, double> RunEvaluation<TBatch>(TrainingModule<TBatch> module, IDataLoader<TBatch> loader, TrainerStage stage)
    {
        Stage = stage;
        bool wasTraining = module.training;
        module.eval();
        evalCollector.Reset();
        module.Collector = evalCollector;
        Strategy.SyncBuffers(module);
        if (stage == TrainerStage.Validating) Each(c => c.OnValidationStart(this, module));
        int limit = Options.LimitValBatches ?? int.MaxValue;
        using (var noGrad = no_grad())
        {
            int index = 0;
            foreach (var rawBatch in loader.Epoch(0))
            {
                if (index >= limit) { Dispose(rawBatch); break; }
                using var scope = NewDisposeScope();
                var batch = module.TransferBatchToDevice(rawBatch, Device);
                if (stage == TrainerStage.Testing) module.TestStep(batch, index);
                else module.ValidationStep(batch, index);
                if (!ReferenceEquals(batch, rawBatch)) Dispose(batch);
                Dispose(rawBatch);
                index++;
            }
        }
        var means = new Dictionary<string, double>(evalCollector.EpochMeans(onlyFlagged: false));
        Strategy.ReduceMetrics(means);
        if (stage == TrainerStage.Testing) means = means.ToDictionary(kv => RenameForTest(kv.Key), kv => kv.Value);
        LogMetrics(means);
        if (stage == TrainerStage.Validating) Each(c => c.OnValidationEnd(this, module));
        else Each(c => c.OnTestEnd(this, module));
        if (wasTraining) module.train();
        return means;
    }

    // A module whose TestStep falls back to ValidationStep logs val_* names; report them as test_*.
    static string RenameForTest(string name) => name.StartsWith("val_", StringComparison.Ordinal) ? "test_" + name[4..] : name;

    void Setup(TrainingModuleBase module)
    {
        if (Options.Threads is int threads) set_num_threads(threads);
        // Deterministic only supplies a seed (see its docs); torch.use_deterministic_algorithms is process-wide, so
        // an application that wants it calls it itself.
        if (Options.Seed is long seed) manual_seed(seed);
        else if (Options.Deterministic) manual_seed(0);
        module.to(Device);
        Strategy.Setup(module);
        module.Trainer = this;
        Module = module;
    }

    void Teardown(TrainingModuleBase module)
    {
        Stage = TrainerStage.Idle;
        module.Trainer = null;
        module.Collector = null;
        Module = null;
        EachLogger(logger => logger.Flush());
    }

    void Each(Action<Callback> hook)
    {
        foreach (var callback in Options.Callbacks) hook(callback);
    }

    internal void RestorePosition(int epoch, int batch, long globalStep)
    {
        CurrentEpoch = epoch;
        BatchIndex = batch;
        GlobalStep = globalStep;
    }

    /// <summary>Sets the learning rate of every parameter group of <paramref name="optimizer"/> to the same <paramref name="lr"/> (see <see cref="LrScheduling"/> to keep each group's ratio).</summary>
    public static void SetLearningRate(optim.Optimizer optimizer, double lr)
    {
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
    }

    static void Dispose<T>(T value)
    {
        if (value is IDisposable d) d.Dispose();
    }

    static Device ResolveDevice(string spec)
    {
        string s = spec.Trim().ToLowerInvariant();
        if (s == "auto") return cuda.is_available() ? CUDA : CPU;
        if (s.StartsWith("cuda", StringComparison.Ordinal) && !cuda.is_available())
            throw new ArgumentException($"device '{spec}' was requested but CUDA is not available (install TorchSharp-cuda-linux and a CUDA driver), use --device cpu");
        try { return device(s); }
        catch (Exception e) when (e is ArgumentException or FormatException or ExternalException)
        {
            throw new ArgumentException($"unknown device '{spec}': expected cpu, cuda, cuda:N or auto", e);
        }
    }
}
