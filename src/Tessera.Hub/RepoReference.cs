using System.Diagnostics.CodeAnalysis;

namespace Tessera.Hub;

/// <summary>A repository and a revision, written <c>org/name@revision</c> on command lines.</summary>
/// <param name="RepoId">The repository id, e.g. <c>HuggingFaceTB/SmolLM-135M</c>.</param>
/// <param name="Revision">A branch, tag or commit hash.</param>
public sealed record RepoReference(string RepoId, string Revision = RepoReference.DefaultRevision)
{
    /// <summary>The revision used when none is given.</summary>
    public const string DefaultRevision = "main";

    /// <summary>Parses <c>org/name</c> or <c>org/name@revision</c>.</summary>
    /// <exception cref="ArgumentException">The repository id is not valid.</exception>
    public static RepoReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int at = text.LastIndexOf('@');
        string repo = at < 0 ? text : text[..at];
        string revision = at < 0 ? DefaultRevision : text[(at + 1)..];
        if (revision.Length == 0) throw new ArgumentException($"'{text}': empty revision after '@'.", nameof(text));
        HubCache.ValidateRepoId(repo);
        return new RepoReference(repo, revision);
    }

    /// <summary>Like <see cref="Parse"/> but returns false instead of throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out RepoReference? reference)
    {
        reference = null;
        if (text is null) return false;
        try { reference = Parse(text); return true; }
        catch (ArgumentException) { return false; }
    }

    /// <summary>Whether <paramref name="revision"/> is a full 40-hex commit hash (not a branch or tag name).</summary>
    public static bool IsCommitHash(string revision) =>
        revision.Length == 40 && revision.All(char.IsAsciiHexDigitLower);

    /// <inheritdoc/>
    public override string ToString() => $"{RepoId}@{Revision}";
}
