namespace Tessera.LoadTest;

/// <summary>Which protocol a load test speaks.</summary>
public enum LoadTestMode
{
    /// <summary>OpenAI <c>POST /v1/completions</c> with a prompt.</summary>
    Completions,

    /// <summary>OpenAI <c>POST /v1/chat/completions</c> with the prompt as one user message.</summary>
    Chat,

    /// <summary>KServe v2 (Open Inference Protocol) <c>POST /v2/models/{name}/infer</c> with one random FP32 tensor.</summary>
    Classifier,
}
