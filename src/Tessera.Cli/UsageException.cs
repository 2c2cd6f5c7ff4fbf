namespace Tessera.Cli;

/// <summary>A command-line argument the command cannot use; the CLI prints the message as one line and exits with 2.</summary>
sealed class UsageException(string message) : TesseraException(message);
