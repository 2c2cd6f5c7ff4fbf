#!/usr/bin/env bash
# 429 latency under a flood (bench/README.md, "Serving: 429 under a flood"): `tessera serve FOLDER --max-batch 1
# --max-queue 1` flooded by 40 `hey` clients for 10 s after a 20 s warm-up flood (JIT); per-request times from
# `hey -o csv`, split by status code; then `wrk` and `hey` on the same load for their summary numbers. Bounded: ~1 min.
#   bash bench/serving-429.sh runs/lm/onnx     # any exported text folder (a tiny one is enough: 429s never reach the model)
set -uo pipefail
cd "$(dirname "$0")/.."
FOLDER=${1:?usage: bench/serving-429.sh EXPORTED_TEXT_FOLDER}
W=${W:-bench/results/serving-429}
mkdir -p "$W"
dotnet build src/Tessera.Cli -c Release -o artifacts/cli >/dev/null
NAME=$(basename "${FOLDER%/}")
dotnet artifacts/cli/Tessera.Cli.dll serve "$FOLDER" --port 0 --quiet --max-batch 1 --max-queue 1 --threads 1 > "$W/serve.log" 2>&1 &
PID=$!
for _ in $(seq 1 120); do grep -q '^serving' "$W/serve.log" && break; sleep 1; done
URL=$(grep -o 'http://[0-9.:]*' "$W/serve.log" | head -1)
[ -n "$URL" ] || { cat "$W/serve.log"; exit 1; }
BODY="{\"model\":\"$NAME\",\"prompt\":\"The quick brown fox jumps over the lazy dog. Once upon a time there was\",\"max_tokens\":40,\"temperature\":0}"
hey -z 20s -c 40 -m POST -T application/json -d "$BODY" "$URL/v1/completions" > /dev/null
echo "load average before: $(cat /proc/loadavg)"
hey -z 10s -c 40 -m POST -T application/json -d "$BODY" -o csv "$URL/v1/completions" > "$W/hey.csv"
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n' "$BODY" > "$W/post.lua"
wrk -t 2 -c 40 -d 10s --latency -s "$W/post.lua" "$URL/v1/completions" > "$W/wrk.txt"
hey -z 10s -c 40 -m POST -T application/json -d "$BODY" "$URL/v1/completions" > "$W/hey.txt"
echo "load average after: $(cat /proc/loadavg); server peak RSS $(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' /proc/$PID/status) MB"
kill "$PID"; wait "$PID"
/usr/bin/python3 - "$W/hey.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))[1:]
by = {}
for r in rows: by.setdefault(r[6], []).append(float(r[0]) * 1000)
pct = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
for code, xs in sorted(by.items()):
    print(f"hey -o csv, status {code}: {len(xs)} requests, p50 {pct(xs, 50):.1f} ms, p90 {pct(xs, 90):.1f} ms, p99 {pct(xs, 99):.1f} ms, under 10 ms: {sum(x < 10 for x in xs) / len(xs):.0%}")
PY
echo "wrk: $(awk '/Requests\/sec/ {print $2 " req/s"} /^ +(50|90|99)%/ {printf "p%s %s ", $1, $2}' "$W/wrk.txt" | tr '\n' ' ')"
echo "hey: $(awk '/Requests\/sec/ {printf "%s req/s ", $2} /(50|90|99)% in/ {printf "p%s %.1fms ", $1, $3 * 1000}' "$W/hey.txt")"
