namespace Tessera.Text.Templates;

/// <summary>One message of a conversation.</summary>
/// <param name="Role">Who speaks: system, user, assistant (or tool, developer).</param>
/// <param name="Content">The text.</param>
public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>The message as the template sees it: <c>{"role": ..., "content": ...}</c>.</summary>
    public IReadOnlyDictionary<string, object?> ToDictionary() => new Dictionary<string, object?> { ["role"] = Role, ["content"] = Content };
}
