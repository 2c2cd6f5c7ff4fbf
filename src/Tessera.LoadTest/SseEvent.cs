namespace Tessera.LoadTest;

/// <summary>One server-sent event: its type (<c>message</c> unless an <c>event:</c> field named another), its data
/// lines joined with newlines, and the <see cref="System.Diagnostics.Stopwatch"/> timestamp of the read that completed it.</summary>
public sealed record SseEvent(string Type, string Data, long Timestamp);
