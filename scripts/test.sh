#!/usr/bin/env bash
# Runs the whole test suite and prints one closing line: "N passed, N failed, N skipped".
#   --fast   leaves out the slow end-to-end tests ([Trait("Category", "Slow")]: CLI trainings, big exports).
# Other arguments go to dotnet test. Opt-in experiments ([Trait("Category", "Experiment")]) never run here.
# A test whose prerequisite is missing reports itself skipped, with the reason; the skipped tests are listed at the end.
# With CI=true any skip fails the run: CI installs every prerequisite (scripts/install-deps.sh --test), so there a skip
# means a broken prerequisite.
set -uo pipefail
cd "$(dirname "$0")/.."
filter="Category!=Experiment"
args=()
for a in "$@"; do
  case "$a" in
    --fast) filter="$filter&Category!=Slow" ;;
    *) args+=("$a") ;;
  esac
done
log=$(mktemp)
# Normal verbosity makes xunit print each skip reason; the per-test "Passed" lines are kept out of the terminal.
dotnet test Tessera.slnx -c Release --filter "$filter" --logger "console;verbosity=normal" "${args[@]}" 2>&1 \
  | tee "$log" | grep --line-buffered -vE '^ +Passed '
status=${PIPESTATUS[0]}
# xunit prints "<test> [SKIP]" and then the reason on the next line of the same assembly.
skips=$(awk '/\[xUnit\.net [0-9:.]+\] +.* \[SKIP\]$/ { sub(/^\[xUnit\.net [0-9:.]+\] +/, ""); sub(/ \[SKIP\]$/, ""); name = $0; next }
             name != "" && /^\[xUnit\.net / { sub(/^\[xUnit\.net [0-9:.]+\] +/, ""); print "  " name ": " $0; name = "" }' "$log")
# At normal verbosity dotnet test closes each test assembly with "Total tests: T" and then "Passed: P", "Failed: F",
# "Skipped: S" lines (each only when non-zero).
summary=$(awk '/^ +(Passed|Failed|Skipped): [0-9]+$/ { n[$1] += $2 }
     END { printf "%d %d %d\n", n["Passed:"], n["Failed:"], n["Skipped:"] }' "$log")
rm -f "$log"
read -r passed failed skipped <<<"$summary"
if [ "$skipped" -gt 0 ]; then
  echo
  echo "SKIPPED ($skipped): a prerequisite is missing; bash scripts/install-deps.sh --test installs them all."
  [ -n "$skips" ] && echo "$skips"
fi
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$status" -eq 0 ] && [ "$skipped" -gt 0 ] && [ "${CI:-}" = "true" ]; then
  echo "CI=true: skipped tests fail the run (every prerequisite should have been installed)" >&2
  status=1
fi
exit "$status"
