using System.Text.Json.Serialization;

namespace Tessera.Tracking.Mlflow;

// The JSON bodies of MLflow's REST API 2.0 (field names as in mlflow/protos/service.proto). int64 fields may come back
// as strings (protobuf's JSON mapping), hence AllowReadingFromString; NaN/Infinity travel as MLflow's named literals.

sealed class MlflowError
{
    public string? ErrorCode { get; init; }
    public string? Message { get; init; }
}

sealed class MlflowKeyValue
{
    public required string Key { get; init; }
    public required string Value { get; init; }
}

sealed class MlflowMetricBody
{
    public required string Key { get; init; }
    public double Value { get; init; }
    public long Timestamp { get; init; }
    public long Step { get; init; }
}

sealed class MlflowExperimentBody
{
    public string? ExperimentId { get; init; }
    public string? Name { get; init; }
    public string? ArtifactLocation { get; init; }
    public string? LifecycleStage { get; init; }
}

sealed class GetExperimentResponse
{
    public MlflowExperimentBody? Experiment { get; init; }
}

sealed class CreateExperimentRequest
{
    public required string Name { get; init; }
}

sealed class CreateExperimentResponse
{
    public string? ExperimentId { get; init; }
}

sealed class CreateRunRequest
{
    public required string ExperimentId { get; init; }
    public string? RunName { get; init; }
    public long StartTime { get; init; }
    public List<MlflowKeyValue> Tags { get; init; } = [];
}

sealed class MlflowRunInfoBody
{
    public string? RunId { get; init; }
    public string? RunUuid { get; init; }
    public string? ExperimentId { get; init; }
    public string? RunName { get; init; }
    public string? Status { get; init; }
    public string? ArtifactUri { get; init; }
}

sealed class MlflowRunBody
{
    public MlflowRunInfoBody? Info { get; init; }
}

sealed class CreateRunResponse
{
    public MlflowRunBody? Run { get; init; }
}

sealed class LogBatchRequest
{
    public required string RunId { get; init; }
    public List<MlflowMetricBody> Metrics { get; init; } = [];
    public List<MlflowKeyValue> Params { get; init; } = [];
    public List<MlflowKeyValue> Tags { get; init; } = [];
}

sealed class UpdateRunRequest
{
    public required string RunId { get; init; }
    public required string Status { get; init; }
    public long? EndTime { get; init; }
}

sealed class UpdateRunResponse
{
    public MlflowRunInfoBody? RunInfo { get; init; }
}

sealed class EmptyResponse;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals | JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(MlflowError))]
[JsonSerializable(typeof(GetExperimentResponse))]
[JsonSerializable(typeof(CreateExperimentRequest))]
[JsonSerializable(typeof(CreateExperimentResponse))]
[JsonSerializable(typeof(CreateRunRequest))]
[JsonSerializable(typeof(CreateRunResponse))]
[JsonSerializable(typeof(LogBatchRequest))]
[JsonSerializable(typeof(UpdateRunRequest))]
[JsonSerializable(typeof(UpdateRunResponse))]
[JsonSerializable(typeof(EmptyResponse))]
partial class MlflowJsonContext : JsonSerializerContext;
