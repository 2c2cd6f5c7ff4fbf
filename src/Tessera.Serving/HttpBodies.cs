using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Tessera.Serving;

/// <summary>Reads request bodies as JSON within Kestrel's body size limit.</summary>
internal static class HttpBodies
{
    public static async Task<JsonDocument> ReadJsonAsync(HttpContext context)
    {
        try
        {
            return await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw ApiError.BadRequest($"the body is not valid JSON: {e.Message}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiError(413, $"the request body is larger than this server's limit of {context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize} bytes (--max-body-bytes)");
        }
    }
}
