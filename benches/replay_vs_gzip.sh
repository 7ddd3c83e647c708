#!/usr/bin/env bash
# End-to-end speed of trace replay against plain decompression, measured side by side:
#   pagelab replay labs/x86-64-empty.json TRACE --tlb 64x4 --policy lru --demand-map
#   gzip -dc TRACE
# Target: replay takes at most 2x as long as gzip -dc. Prints both times and the ratio.
# Usage: benches/replay_vs_gzip.sh [TRACE]  (default: the lackey sort trace of ../shared/fixtures)
# Uses hyperfine when installed (apt-get install -y hyperfine), else a loop timed with bash.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pagelab-target}"
trace="${1:-../shared/fixtures/traces/lackey_sort.trace.gz}"
runs="${RUNS:-30}"
# The CLI is the same with or without the GUI feature; skip the GUI to build faster.
cargo build --release --no-default-features --quiet
bin="$CARGO_TARGET_DIR/release/pagelab"
replay="$bin replay labs/x86-64-empty.json $trace --tlb 64x4 --policy lru --demand-map"
gunzip="gzip -dc $trace"
"$bin" replay labs/x86-64-empty.json "$trace" --tlb 64x4 --policy lru --demand-map | head -4

if command -v hyperfine >/dev/null; then
  csv="$(mktemp)"
  trap 'rm -f "$csv"' EXIT
  # -N: no intermediate shell; both commands' output goes to /dev/null.
  hyperfine -N --warmup 3 --runs "$runs" --export-csv "$csv" "$gunzip" "$replay"
  # CSV columns: command,mean,stddev,median,user,system,min,max (seconds).
  awk -F, 'NR == 2 { gm = $2; gmed = $4; gu = $5 } NR == 3 { rm = $2; rmed = $4; ru = $5 }
    END { printf "replay / gzip -dc: mean %.2fx, median %.2fx, user CPU %.2fx (target: at most 2x)\n",
          rm / gm, rmed / gmed, ru / gu }' "$csv"
else
  seconds() {
    local TIMEFORMAT=%R start
    { time (for _ in $(seq "$runs"); do $1 >/dev/null; done) ; } 2>&1
  }
  $gunzip >/dev/null; $replay >/dev/null # warm the caches
  g=$(seconds "$gunzip")
  r=$(seconds "$replay")
  awk -v g="$g" -v r="$r" -v n="$runs" 'BEGIN {
    printf "gzip -dc: %.1f ms a run; replay: %.1f ms a run; replay / gzip -dc: %.2fx (target: at most 2x)\n",
           g * 1000 / n, r * 1000 / n, r / g }'
fi
