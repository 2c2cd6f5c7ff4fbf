using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Tessera.Dashboard;

/// <summary>The page's files, embedded in the assembly under <c>wwwroot/</c>; <c>/</c> is <c>index.html</c>.</summary>
static class StaticAssets
{
    static readonly Dictionary<string, (byte[] Content, string Type, string ETag)> files = Load();

    internal static IReadOnlyCollection<string> Names => files.Keys;

    static Dictionary<string, (byte[], string, string)> Load()
    {
        var assembly = typeof(StaticAssets).Assembly;
        var map = new Dictionary<string, (byte[], string, string)>(StringComparer.Ordinal);
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("wwwroot/", StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            byte[] content = buffer.ToArray();
            string type = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".svg" => "image/svg+xml",
                ".png" => "image/png",
                _ => "application/octet-stream",
            };
            map["/" + name["wwwroot/".Length..]] = (content, type, "\"" + Convert.ToHexStringLower(SHA256.HashData(content))[..16] + "\"");
        }
        return map;
    }

    public static void Map(WebApplication app)
    {
        app.MapGet("/", (HttpContext c) => Serve(c, "/index.html"));
        foreach (string path in files.Keys) app.MapGet(path, (HttpContext c) => Serve(c, path));
    }

    static Task Serve(HttpContext context, string path)
    {
        var (content, type, etag) = files[path];
        context.Response.Headers.ETag = etag;
        context.Response.Headers.CacheControl = "no-cache";
        if (context.Request.Headers.IfNoneMatch == etag)
        {
            context.Response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        context.Response.ContentType = type;
        context.Response.ContentLength = content.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : context.Response.Body.WriteAsync(content).AsTask();
    }
}
