#!/usr/bin/env bash
# Installs what Tessera needs from Debian's packages: the Fashion-MNIST data, the fortunes text, and the
# Python references the tests compare against (PyTorch 1.13, NumPy, PyYAML, onnx for onnx.checker), and the npm
# tokenizer reference. Safe to run again.
set -euo pipefail
packages=(dataset-fashion-mnist fortunes python3-torch python3-numpy python3-yaml python3-onnx)
packages+=(openmpi-bin libopenmpi-dev) # data-parallel training tests (mpirun)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The independent tokenizer reference for the parity tests (versions pinned by tests/js/package-lock.json).
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -d "$root/tests/js/node_modules/@huggingface/tokenizers" ]; then
  npm ci --prefix "$root/tests/js" --no-audit --no-fund --loglevel=error
fi
