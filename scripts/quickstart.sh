#!/usr/bin/env bash
# Fresh machine to trained model: installs the data, builds Tessera, trains the small CNN on Fashion-MNIST
# (5 epochs, Adam 1e-3, batch 128), evaluates it and prints the results. Extra arguments go to `tessera train`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
dotnet build src/Tessera.Cli -c Release -o artifacts/tessera -v quiet -nologo
mkdir -p artifacts/bin && ln -sf ../tessera/Tessera.Cli artifacts/bin/tessera   # put artifacts/bin on PATH to type `tessera`
out=runs/fashion-mnist
artifacts/bin/tessera train fashion-mnist --out "$out" "$@"
artifacts/bin/tessera eval "$out/model"
