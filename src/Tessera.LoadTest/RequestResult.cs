namespace Tessera.LoadTest;

/// <summary>
/// What one request measured. <see cref="Outcome"/> is the HTTP status code as text (<c>200</c>, <c>429</c>, ...) or,
/// when no usable answer came, <c>timeout</c>, <c>connection_error</c> or <c>bad_response</c> (a 200 whose body broke
/// the protocol: not JSON, an SSE stream without <c>[DONE]</c>, an error event).
/// </summary>
/// <param name="Outcome">Status code or failure kind, as above.</param>
/// <param name="Detail">Why a failed request failed, for the first few failures of a level; null when it succeeded.</param>
/// <param name="StartSeconds">When it started, in seconds since its level started.</param>
/// <param name="EndToEndSeconds">From sending the request to the end of the response body.</param>
/// <param name="TimeToFirstTokenSeconds">From sending the request to the first chunk with output text (streams only).</param>
/// <param name="InterTokenSeconds">Gaps between successive chunks with output text (streams only).</param>
/// <param name="OutputTokens">Output tokens: the usage the server reported, or else the chunks with output text.</param>
public sealed record RequestResult(
    string Outcome,
    string? Detail,
    double StartSeconds,
    double EndToEndSeconds,
    double? TimeToFirstTokenSeconds,
    IReadOnlyList<double> InterTokenSeconds,
    int OutputTokens)
{
    /// <summary>Whether the request got a 200 with a well-formed answer.</summary>
    public bool Succeeded => Outcome == "200";
}
