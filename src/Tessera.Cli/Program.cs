using System.CommandLine;
using Tessera;
using Tessera.Cli;

// Process-wide, and read once by OpenMP when libtorch loads: so set here, first, before any thread starts. PASSIVE for
// every command unless the user set OMP_WAIT_POLICY: spinning OpenMP threads cost token-by-token decoding always, and
// training and bench about 4x on a busy machine, for a few percent on a quiet one (README, bench/README.md).
OpenMpWaitPolicy.Prefer();
MallocArenas.Limit(2); // training memory stays bounded (see MallocArenas)
return Cli.Run(args);
