namespace Tessera.Distributed;

/// <summary>A process group could not be set up, or another member of it failed.</summary>
public sealed class DistributedException(string message, Exception? inner = null) : TesseraException(message, inner);
