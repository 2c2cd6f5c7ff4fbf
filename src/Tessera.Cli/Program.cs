using System.CommandLine;
using Tessera.Cli;

return Cli.Run(args);
