#!/usr/bin/env bash
# Fresh machine to deployed model: installs the data, builds Tessera, trains the small CNN on Fashion-MNIST
# (5 epochs, Adam 1e-3 with cosine decay, batch 128), evaluates it, exports it to ONNX (checked against TorchSharp),
# quantizes it to int8 and benchmarks TorchSharp vs ONNX Runtime fp32 vs int8.
# Extra arguments go to `tessera train` (e.g. --model resnet --epochs 15, or --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
dotnet build src/Tessera.Cli -c Release -o artifacts/tessera -nologo -v quiet -clp:NoSummary
mkdir -p artifacts/bin && ln -sf ../tessera/Tessera.Cli artifacts/bin/tessera   # put artifacts/bin on PATH to type `tessera`
out=runs/fashion-mnist
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[i]}" = "--out" ] && out="${args[i+1]}"; done
if [ "$out" = runs/fashion-mnist ]; then set -- --out "$out" "$@"; fi
# Running the quick start again replaces its earlier run (tessera train refuses a used --out without one of these).
case " $* " in *" --resume "*|*" --overwrite "*) ;; *) set -- "$@" --overwrite ;; esac
artifacts/bin/tessera train fashion-mnist "$@"
artifacts/bin/tessera eval "$out/model"
artifacts/bin/tessera export "$out/model" --out "$out/onnx/"
artifacts/bin/tessera quantize "$out/onnx/model.onnx" --out "$out/onnx/model.int8.onnx"
artifacts/bin/tessera bench "$out/model" --batch 1,32,256
