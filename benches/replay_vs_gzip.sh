#!/usr/bin/env bash
# End-to-end speed of trace replay as users see it, measured side by side:
#   pagelab replay labs/x86-64-empty.json TRACE.gz --tlb 64x4 --policy lru --demand-map
#     against  gzip -dc TRACE.gz                         (target: at most 0.8x)
#   the same replay of the decompressed text (TRACE, plain)
#     against  wc -l TRACE                               (target: at most 5x)
# Usage: benches/replay_vs_gzip.sh [TRACE.gz]   (default: tests/data/traces/lackey_sort.trace.gz)
#        RUNS=N sets the number of runs of each command (default 30).
#        PAGELAB=path/to/pagelab measures that binary instead of building this checkout's.
# Each pair of commands runs alternately, so that load from other processes on a shared
# machine hits both alike; the script prints the median wall-clock time of each, their ratio,
# and the median of the per-pair ratios (the figure to quote: it cancels slow phases).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pagelab-target}"
trace="${1:-tests/data/traces/lackey_sort.trace.gz}"
runs="${RUNS:-30}"
if [[ -z "${PAGELAB:-}" ]]; then
  # The CLI is the same with or without the GUI feature; skip the GUI to build faster.
  cargo build --release --no-default-features --quiet
  PAGELAB="$CARGO_TARGET_DIR/release/pagelab"
fi
text="$(mktemp)"
pairs="$(mktemp)"
trap 'rm -f "$text" "$pairs"' EXIT
gzip -dc "$trace" >"$text"
replay() { "$PAGELAB" replay labs/x86-64-empty.json "$@" --tlb 64x4 --policy lru --demand-map; }
replay "$trace" | head -4
cmp <(replay "$trace" --json) <(replay "$text" --json) >/dev/null || { echo "plain and gzip replays disagree" >&2; exit 1; }

# Nanoseconds one run of the command takes, output discarded.
run_ns() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  echo $((end - start))
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# compare NAME TARGET BASELINE... -- COMMAND...: alternating runs, medians and ratios.
compare() {
  local name="$1" target="$2" base=() command=()
  shift 2
  while [[ "$1" != "--" ]]; do base+=("$1"); shift; done
  shift
  command=("$@")
  "${base[@]}" >/dev/null; "${command[@]}" >/dev/null # warm the page cache
  : >"$pairs"
  for _ in $(seq "$runs"); do
    echo "$(run_ns "${base[@]}") $(run_ns "${command[@]}")" >>"$pairs"
  done
  local b r pr
  b=$(awk '{ print $1 }' "$pairs" | median)
  r=$(awk '{ print $2 }' "$pairs" | median)
  pr=$(awk '{ print $2 / $1 }' "$pairs" | median)
  awk -v b="$b" -v r="$r" -v pr="$pr" -v n="$runs" -v name="$name" -v base="${base[0]}" -v target="$target" 'BEGIN {
    printf "%s: %d alternating runs each: %s %.1f ms, replay %.1f ms (medians)\n", name, n, base, b / 1e6, r / 1e6
    printf "  replay / %s: %.2fx (ratio of medians), %.2fx (median of per-pair ratios); target: at most %s\n", base, r / b, pr, target
  }'
}

compare "gzip trace" 0.8x gzip -dc "$trace" -- replay "$trace"
compare "plain text" 5x wc -l "$text" -- replay "$text"
