#!/usr/bin/env bash
# Reproduces the "Serving" numbers of bench/README.md: `tessera serve` loaded by `tessera loadtest` (and by Debian's
# `hey` for the non-streamed paths). Bounded: every level runs $DUR (default 10s); the whole script takes ~10 min.
#   bash bench/serving.sh            # builds, makes the two models (once), measures, prints a summary
# Models (no downloads): a GPT-2-small-shape decoder (12 x 768, 124M random weights, seed 0; GPT-2's BPE files come
# from a 1-step `tessera train lm --tokenizer gpt2`), exported and int8-quantized with `tessera export` / `quantize`;
# the Fashion-MNIST cnn trained 1 epoch on 5000 images, exported and quantized. Needs: dotnet, /usr/bin/python3 with
# numpy, jq, curl, hey (apt-get install hey jq curl python3-numpy dataset-fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${W:-bench/results/serving}
DUR=${DUR:-10s}
TOKENS=${TOKENS:-32}
mkdir -p "$W"
dotnet build src/Tessera.Cli -c Release -o artifacts/cli >/dev/null
dotnet build bench/Tessera.Bench -c Release -o artifacts/bench >/dev/null
T="dotnet artifacts/cli/Tessera.Cli.dll"

if [ ! -f "$W/gpt2s-int8/model.onnx" ]; then
  $T train lm --model gpt2-tiny --tokenizer gpt2 --max-steps 1 --batch-size 2 --block-size 64 --limit-chars 20000 --out "$W/lm-tiny" --overwrite >/dev/null
  /usr/bin/python3 bench/make_gpt2_small.py "$W/lm-tiny/model" "$W/gpt2s"
  $T export "$W/gpt2s" --out "$W/gpt2s-onnx/" --no-verify
  $T quantize "$W/gpt2s-onnx" --out "$W/gpt2s-int8/" --no-eval
fi
if [ ! -f "$W/fm-int8/model.onnx" ]; then
  $T train fashion-mnist --epochs 1 --limit-train 5000 --val-size 1000 --out "$W/fm" --overwrite >/dev/null
  $T export "$W/fm/model" --out "$W/fm-onnx/"
  $T quantize "$W/fm-onnx" --out "$W/fm-int8/"
fi
PROMPT="The quick brown fox jumps over the lazy dog. Once upon a time there was"   # 16 GPT-2 tokens
echo "$PROMPT" > "$W/prompt.txt"

SERVER_PID=""
serve() { # serve NAME ARGS...: starts `tessera serve` on a free port, sets URL and SERVER_PID
  local log="$W/serve-$1.log"; shift
  $T serve "$@" --port 0 --quiet > "$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 120); do grep -q '^serving' "$log" && break; sleep 1; done
  URL=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
  [ -n "$URL" ] || { cat "$log"; exit 1; }
}
stop() { kill "$SERVER_PID"; wait "$SERVER_PID" || true; }
peak_rss_mb() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
hey_rps() { hey "$@" | awk '/Requests\/sec/ { print $2 }'; }

# 1. The library's own loop, single stream (reference for server overhead).
dotnet artifacts/bench/Tessera.Bench.dll serving-baseline --model "$W/gpt2s-int8" --prompt "$PROMPT" --new-tokens "$TOKENS" --rounds 5 --threads 2 --out "$W"

# 2. Text: streamed, concurrency 1 and 16; then non-streamed at 16, ours and hey's.
serve text "$W/gpt2s-int8" --max-batch 16 --max-queue 64 --threads 2
$T loadtest "$URL" --concurrency 1,16 --duration "$DUR" --prompt-file "$W/prompt.txt" --max-tokens "$TOKENS" --model gpt2s-int8 --out "$W/text-stream"
$T loadtest "$URL" --concurrency 16 --duration "$DUR" --prompt-file "$W/prompt.txt" --max-tokens "$TOKENS" --model gpt2s-int8 --stream false --out "$W/text-nostream"
BODY=$(jq -cn --arg p "$PROMPT" --argjson n "$TOKENS" '{model: "gpt2s-int8", prompt: $p, max_tokens: $n, stream: false}')
HEY_TEXT=$(hey_rps -z "$DUR" -c 16 -m POST -T application/json -d "$BODY" "$URL/v1/completions")
echo "text peak RSS: $(peak_rss_mb) MB" | tee "$W/text-rss.txt"
stop

# 3. Classifier at concurrency 32: with dynamic batching (2 ms window, up to 32 per ORT run) and without it, both ways a
#    server can do without: --batch-window-ms 0 (each request its own ORT run, runs concurrent) and --max-batch 1 (one
#    request per run, one run at a time). hey on the same body. ORT --threads 1: with 2, its spinning intra-op thread
#    competes with Kestrel and the load generator on the 2 cores (measured 2900-3300 vs 4100-4200 requests/s).
curl_body() { /usr/bin/python3 -c "import json,random; random.seed(0); print(json.dumps({'inputs':[{'name':'$1','shape':[1,1,28,28],'datatype':'FP32','data':[round(random.random(),4) for _ in range(784)]}]}))" > "$W/infer.json"; }
FM_SETTINGS=("batched:--batch-window-ms 2 --max-batch 32" "window0:--batch-window-ms 0 --max-batch 32" "maxbatch1:--batch-window-ms 2 --max-batch 1")
for setting in "${FM_SETTINGS[@]}"; do
  tag=${setting%%:*}
  # shellcheck disable=SC2086
  serve "fm-$tag" "$W/fm-int8" ${setting#*:} --max-queue 256 --threads "${FM_THREADS:-1}"
  curl_body "$(curl -s "$URL/v2/models/fm-int8" | jq -r '.inputs[0].name')"
  $T loadtest "$URL" --classifier --model fm-int8 --concurrency 32 --duration "$DUR" --out "$W/fm-$tag"
  echo "$(hey_rps -z "$DUR" -c 32 -m POST -T application/json -D "$W/infer.json" "$URL/v2/models/fm-int8/infer")" > "$W/hey-fm-$tag.txt"
  curl -s "$URL/metrics" | awk '/^tessera:infer_batch_size_sum/ { s = $2 } /^tessera:infer_batch_size_count/ { c = $2 } END { printf "%.1f", s / c }' > "$W/fm-$tag-mean-batch.txt"
  stop
done

# 4. Overload: 10x --max-queue clients against the text model; every answer must be 200 or 429; then a normal request.
serve overload "$W/gpt2s-int8" --max-batch 4 --max-queue 4 --threads 2
$T loadtest "$URL" --concurrency 40 --duration "$DUR" --prompt-file "$W/prompt.txt" --max-tokens 16 --model gpt2s-int8 --warmup 0 --out "$W/overload"
AFTER=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/completions" -H 'Content-Type: application/json' -d '{"model":"gpt2s-int8","prompt":"Hello","max_tokens":4}')
echo "overload peak RSS: $(peak_rss_mb) MB; a request right after: HTTP $AFTER" | tee "$W/overload-after.txt"
stop

# Summary
j() { jq -r "$2" "$W/$1/report.json"; }
echo
echo "== summary (each level $DUR; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)) =="
echo "library loop single stream tokens/s: $(jq -r .MedianTokensPerSecond "$W/serving-baseline-gpt2s-int8.json")"
echo "HTTP+SSE c=1 tokens/s: $(j text-stream '.levels[0].output_tokens_per_second')  c=16: $(j text-stream '.levels[1].output_tokens_per_second')"
echo "TTFT p99 ms c=1: $(j text-stream '.levels[0].time_to_first_token.p99_ms')  c=16: $(j text-stream '.levels[1].time_to_first_token.p99_ms')"
echo "ITL p50/p99 ms c=16: $(j text-stream '.levels[1].inter_token_latency.p50_ms') / $(j text-stream '.levels[1].inter_token_latency.p99_ms')"
echo "text non-stream c=16 req/s: loadtest $(j text-nostream '.levels[0].requests_per_second')  hey $HEY_TEXT"
for setting in "${FM_SETTINGS[@]}"; do
  tag=${setting%%:*}
  echo "classifier c=32 $tag [${setting#*:}] req/s: loadtest $(j fm-$tag '.levels[0].requests_per_second') (p99 $(j fm-$tag '.levels[0].end_to_end.p99_ms') ms, mean ORT batch $(cat "$W/fm-$tag-mean-batch.txt"))  hey $(cat "$W/hey-fm-$tag.txt")"
done
echo "overload outcomes: $(j overload '.levels[0].outcomes | tostring'); $(cat "$W/overload-after.txt")"
