using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Tessera.Serving;

/// <summary>Reads request bodies as JSON within the server's body size limit, and drains refused ones.</summary>
internal static class HttpBodies
{
    /// <summary>How long the server keeps reading a refused body so the client reads the 413 instead of a reset.</summary>
    static readonly TimeSpan DrainTime = TimeSpan.FromSeconds(5);

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
            throw TooLarge(context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize);
        }
    }

    public static ApiError TooLarge(long? limit) =>
        new(413, $"the request body is larger than this server's limit of {limit} bytes (--max-body-bytes)");

    /// <summary>
    /// Moves the size limit from Kestrel into a stream the app reads through, so that a body found too large
    /// stays readable and can be drained (Kestrel's own limit leaves it unreadable). Returns the raw body, or
    /// null where Kestrel's limit can no longer be lifted.
    /// </summary>
    public static Stream? TakeOverLimit(HttpContext context, long limit)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is not { IsReadOnly: false } feature) return null;
        feature.MaxRequestBodySize = null;
        Stream raw = context.Request.Body;
        context.Request.Body = new LimitedBody(raw, limit);
        return raw;
    }

    /// <summary>
    /// Reads and drops the rest of a refused body, up to max(<paramref name="limit"/>, 4 MiB) bytes and a few
    /// seconds, as a lingering close does: closing a connection with unread bytes sends a reset, and the client's
    /// kernel may then drop the 413 before the client reads it.
    /// </summary>
    public static async Task DrainAsync(Stream raw, long limit, CancellationToken aborted)
    {
        long most = Math.Max(limit, 4 << 20);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        timeout.CancelAfter(DrainTime);
        byte[] buffer = new byte[16 * 1024];
        try
        {
            for (long read = 0; read <= most;)
            {
                int n = await raw.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
                if (n == 0) return;
                read += n;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or BadHttpRequestException)
        {
            // A client too slow or gone: the connection closes either way.
        }
    }

    /// <summary>A read-only view of a request body that refuses with 413 once more than the limit has been read.</summary>
    sealed class LimitedBody(Stream inner, long limit) : Stream
    {
        long read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        int Count(int n)
        {
            read += n;
            if (read > limit) throw TooLarge(limit);
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
