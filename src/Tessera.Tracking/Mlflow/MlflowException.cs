namespace Tessera.Tracking.Mlflow;

/// <summary>
/// An MLflow tracking server refused a request or could not be reached. The message names the endpoint, and for a
/// refusal the server's <c>error_code</c> and <c>message</c>.
/// </summary>
public sealed class MlflowException : TesseraException
{
    /// <summary>Creates the exception.</summary>
    public MlflowException(string message, string endpoint, string? errorCode = null, int? statusCode = null, Exception? inner = null)
        : base(message, inner)
    {
        Endpoint = endpoint;
        ErrorCode = errorCode;
        StatusCode = statusCode;
    }

    /// <summary>The REST endpoint that failed, e.g. <c>runs/log-batch</c>.</summary>
    public string Endpoint { get; }

    /// <summary>MLflow's error code (<c>RESOURCE_DOES_NOT_EXIST</c>, <c>INVALID_PARAMETER_VALUE</c>, ...), when the server sent one.</summary>
    public string? ErrorCode { get; }

    /// <summary>The HTTP status, when the server answered.</summary>
    public int? StatusCode { get; }
}
