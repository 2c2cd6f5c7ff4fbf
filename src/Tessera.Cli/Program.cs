using System.CommandLine;
using Tessera;
using Tessera.Cli;

// Process-wide, and read once by OpenMP when libtorch loads: so set here, first, before any thread starts, and only for
// the command that gains from it (token-by-token decoding; see OpenMpWaitPolicy).
if (args is ["generate", ..]) OpenMpWaitPolicy.Prefer();
MallocArenas.Limit(2); // training memory stays bounded (see MallocArenas)
return Cli.Run(args);
