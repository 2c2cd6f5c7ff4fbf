#!/usr/bin/env bash
# Library loop vs `tessera serve` over HTTP, interleaved: 3 rounds of `serving-baseline` then a fresh server loaded at
# concurrency 1 and 16 (each level DUR, default 30s). Run `bash bench/serving.sh` first (it builds artifacts/ and makes the model).
set -euo pipefail
cd "$(dirname "$0")/.."
W=bench/results/serving; T="dotnet artifacts/cli/Tessera.Cli.dll"
P="The quick brown fox jumps over the lazy dog. Once upon a time there was"
for r in 1 2 3; do
  dotnet artifacts/bench/Tessera.Bench.dll serving-baseline --model "$W/gpt2s-int8" --prompt "$P" --new-tokens 32 --rounds 3 --threads 2 --out $W/rounds-b-$r | grep -o "median [0-9.]* tokens/s"
  $T serve "$W/gpt2s-int8" --max-batch 16 --max-queue 64 --threads 2 --port 0 --quiet > $W/rounds-s-$r.log 2>&1 &
  PID=$!
  for _ in $(seq 1 120); do grep -q '^serving' $W/rounds-s-$r.log && break; sleep 1; done
  URL=$(grep -o 'http://[0-9.:]*' $W/rounds-s-$r.log | head -1)
  $T loadtest "$URL" --concurrency 1,16 --duration "${DUR:-30s}" --prompt-file "$W/prompt.txt" --max-tokens 32 --model gpt2s-int8 --out $W/rounds-l-$r --no-track > /dev/null
  kill $PID; wait $PID || true
  echo "round $r: HTTP c1 $(jq -r '.levels[0].output_tokens_per_second' $W/rounds-l-$r/report.json) c16 $(jq -r '.levels[1].output_tokens_per_second' $W/rounds-l-$r/report.json) TTFT p99 c16 $(jq -r '.levels[1].time_to_first_token.p99_ms' $W/rounds-l-$r/report.json); load $(cut -d' ' -f1 /proc/loadavg)"
done
