namespace Tessera.Tracking.Mlflow;

/// <summary>How <see cref="MlflowClient"/> authenticates and how long it waits.</summary>
public sealed record MlflowClientOptions
{
    /// <summary>Environment variable with a bearer token (as MLflow's own client reads it).</summary>
    public const string TokenVariable = "MLFLOW_TRACKING_TOKEN";

    /// <summary>Environment variable with the basic-auth user name.</summary>
    public const string UsernameVariable = "MLFLOW_TRACKING_USERNAME";

    /// <summary>Environment variable with the basic-auth password.</summary>
    public const string PasswordVariable = "MLFLOW_TRACKING_PASSWORD";

    /// <summary>Sent as <c>Authorization: Bearer</c> when set (it wins over user name and password).</summary>
    public string? Token { get; init; }

    /// <summary>Basic-auth user name (with <see cref="Password"/>).</summary>
    public string? Username { get; init; }

    /// <summary>Basic-auth password.</summary>
    public string? Password { get; init; }

    /// <summary>Time limit of one request [default: 60 s].</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How many times a request is sent again after the server answered 429, 500, 502, 503 or 504 (as MLflow's own
    /// client retries them) [default: 3]; 0 turns retries off. Other errors are not retried.
    /// </summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>Wait before the first retry; it doubles for each further one [default: 1 s].</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Options with the credentials MLflow's variables hold (MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD).</summary>
    public static MlflowClientOptions FromEnvironment() => new()
    {
        Token = Read(TokenVariable),
        Username = Read(UsernameVariable),
        Password = Read(PasswordVariable),
    };

    static string? Read(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
}
