#!/usr/bin/env bash
# Installs what Tessera needs from Debian's packages. Safe to run again.
#   bash scripts/install-deps.sh          what running needs: the Fashion-MNIST data and the fortunes text
#   bash scripts/install-deps.sh --test   that, plus what the tests compare against: the Python references
#                                         (PyTorch 1.13, NumPy, PyYAML, onnx for onnx.checker), node + npm and the
#                                         npm packages of tests/js (pinned by tests/js/package-lock.json)
# Add a package with one line in the list it belongs to.
set -euo pipefail

run_packages=(
  dataset-fashion-mnist
  fortunes
)
test_packages=(
  python3-torch
  python3-numpy
  python3-yaml
  python3-onnx
  python3-jinja2  # chat template reference (Tessera.Text templates)
  openmpi-bin     # data-parallel training tests (mpirun)
  libopenmpi-dev
  chromium        # the dashboard's browser tests (headless, driven by PuppeteerSharp)
)

test=false
for arg in "$@"; do
  case "$arg" in
    --test) test=true ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown argument '$arg' (expected --test)" >&2; exit 2 ;;
  esac
done

packages=("${run_packages[@]}")
if $test; then
  packages+=("${test_packages[@]}")
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

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

if $test; then
  # The independent tokenizer / transformers.js references for the parity tests.
  root="$(cd "$(dirname "$0")/.." && pwd)"
  if [ ! -d "$root/tests/js/node_modules/@huggingface/tokenizers" ]; then
    npm ci --prefix "$root/tests/js" --no-audit --no-fund --loglevel=error
  fi
fi
