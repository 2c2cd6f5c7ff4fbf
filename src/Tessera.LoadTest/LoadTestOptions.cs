namespace Tessera.LoadTest;

/// <summary>
/// What a load test sends and for how long. Each level runs until <see cref="Duration"/> has passed or
/// <see cref="MaxRequests"/> requests have started, whichever comes first; requests still running then finish
/// (each bounded by <see cref="RequestTimeout"/>) and count.
/// </summary>
public sealed record LoadTestOptions
{
    /// <summary>The server: a base address (<c>http://127.0.0.1:8080</c>), to which the mode's path is added, or a full endpoint address, used as given.</summary>
    public required Uri Url { get; init; }

    /// <summary>The protocol. Default: <see cref="LoadTestMode.Completions"/>.</summary>
    public LoadTestMode Mode { get; init; } = LoadTestMode.Completions;

    /// <summary>Closed-loop levels: each is that many clients, each sending its next request when the last one ends. Default: 1, 4, 16.</summary>
    public IReadOnlyList<int> Concurrency { get; init; } = [1, 4, 16];

    /// <summary>Open-loop levels, in requests per second: requests start at Poisson-distributed times whatever the server does. Run after the closed-loop levels.</summary>
    public IReadOnlyList<double> Rates { get; init; } = [];

    /// <summary>How long each level sends requests. Default: 10 s.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The most requests one level starts; null for no limit besides <see cref="Duration"/>.</summary>
    public int? MaxRequests { get; init; }

    /// <summary>The longest one request may take before it is abandoned and counted as <c>timeout</c>. Default: 60 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Requests sent one at a time before the first level, not counted (JIT, caches, connections). Default: 2.</summary>
    public int WarmupRequests { get; init; } = 2;

    /// <summary>
    /// After <see cref="WarmupRequests"/>, uncounted closed-loop load for this long at the first level's concurrency
    /// (1 for open-loop runs), so that the first level meets a warm server and a warm client (JIT-compiled request
    /// paths, pooled connections) as a later one does. Default: none.
    /// </summary>
    public TimeSpan WarmupDuration { get; init; } = TimeSpan.Zero;

    /// <summary>Prompts for the text modes, used in turn. Default: one short English prompt.</summary>
    public IReadOnlyList<string> Prompts { get; init; } = ["The quick brown fox jumps over the lazy dog. Once upon a time"];

    /// <summary>The <c>max_tokens</c> of every text request. Default: 64.</summary>
    public int MaxTokens { get; init; } = 64;

    /// <summary>The <c>model</c> field of text requests, or the model name in the classifier's path (default there: <c>model</c>); null leaves the text field out.</summary>
    public string? Model { get; init; }

    /// <summary>Whether text requests ask for an SSE stream (with <c>stream_options.include_usage</c>). Default: true.</summary>
    public bool Stream { get; init; } = true;

    /// <summary>The <c>temperature</c> of text requests; null leaves the field out (the server's default).</summary>
    public double? Temperature { get; init; }

    /// <summary>The classifier's input shape, batch first. Default: 1, 1, 28, 28.</summary>
    public IReadOnlyList<long> InputShape { get; init; } = [1, 1, 28, 28];

    /// <summary>The classifier's input name; null asks the server (<c>GET /v2/models/{name}</c>) and falls back to <c>input</c>.</summary>
    public string? InputName { get; init; }

    /// <summary>A bearer token sent with every request, or null.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Seed of the open-loop arrival times and the classifier's random input. Default: 0.</summary>
    public int Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option that cannot be used.</summary>
    public void Validate()
    {
        if (!Url.IsAbsoluteUri || (Url.Scheme != Uri.UriSchemeHttp && Url.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"the URL must be an absolute http:// or https:// address (got '{Url}')");
        if (Concurrency.Count == 0 && Rates.Count == 0) throw new ArgumentException("give at least one concurrency level or one open-loop rate");
        if (Concurrency.Any(c => c < 1 || c > 10_000)) throw new ArgumentException($"concurrency levels must be 1..10000 (got {string.Join(",", Concurrency)})");
        if (Rates.Any(r => !(r > 0) || r > 100_000)) throw new ArgumentException($"open-loop rates must be in (0, 100000] requests/s (got {string.Join(",", Rates)})");
        if (Duration <= TimeSpan.Zero || Duration > TimeSpan.FromHours(1)) throw new ArgumentException($"the duration must be in (0 s, 1 h] (got {Duration})");
        if (MaxRequests is < 1) throw new ArgumentException($"the request limit must be at least 1 (got {MaxRequests})");
        if (RequestTimeout <= TimeSpan.Zero) throw new ArgumentException($"the request timeout must be positive (got {RequestTimeout})");
        if (WarmupRequests < 0) throw new ArgumentException($"warm-up requests cannot be negative (got {WarmupRequests})");
        if (WarmupDuration < TimeSpan.Zero || WarmupDuration > TimeSpan.FromMinutes(10)) throw new ArgumentException($"the warm-up duration must be in [0 s, 10 min] (got {WarmupDuration})");
        if (Mode != LoadTestMode.Classifier)
        {
            if (Prompts.Count == 0) throw new ArgumentException("give at least one prompt");
            if (MaxTokens < 1) throw new ArgumentException($"max_tokens must be at least 1 (got {MaxTokens})");
        }
        else if (InputShape.Count == 0 || InputShape.Any(d => d < 1) || InputShape.Aggregate(1L, (a, b) => a * b) > 16_000_000)
            throw new ArgumentException($"the input shape must be positive dims of at most 16M elements in all (got {string.Join(",", InputShape)})");
    }
}
