namespace Tessera.Serving;

/// <summary>A request the server refuses: the HTTP status and the message of the error body.</summary>
internal sealed class ApiError(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    public int? RetryAfterSeconds { get; init; }

    public static ApiError BadRequest(string message, string? param = null) => new(400, message, param: param);
}
