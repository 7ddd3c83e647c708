#!/usr/bin/env bash
# End-to-end speed of trace replay against plain decompression, measured side by side:
#   pagelab replay labs/x86-64-empty.json TRACE --tlb 64x4 --policy lru --demand-map
#   gzip -dc TRACE
# Target: replay takes at most 2x as long as gzip -dc.
# Usage: benches/replay_vs_gzip.sh [TRACE]   (default: tests/data/traces/lackey_sort.trace.gz)
#        RUNS=N sets the number of runs of each command (default 30).
# The two commands run alternately, so that load from other processes on a shared machine hits
# both alike; the script prints the median wall-clock time of each and their ratio, and the
# median of the per-pair ratios. With hyperfine installed it also runs hyperfine (which runs
# the commands one after the other, so its ratio is more sensitive to changing load).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pagelab-target}"
trace="${1:-tests/data/traces/lackey_sort.trace.gz}"
runs="${RUNS:-30}"
# The CLI is the same with or without the GUI feature; skip the GUI to build faster.
cargo build --release --no-default-features --quiet
bin="$CARGO_TARGET_DIR/release/pagelab"
replay=("$bin" replay labs/x86-64-empty.json "$trace" --tlb 64x4 --policy lru --demand-map)
gunzip=(gzip -dc "$trace")
"${replay[@]}" | head -4

# Nanoseconds one run of the command takes, output discarded.
run_ns() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  echo $((end - start))
}

"${gunzip[@]}" >/dev/null; "${replay[@]}" >/dev/null # warm the page cache
pairs="$(mktemp)"
trap 'rm -f "$pairs"' EXIT
for _ in $(seq "$runs"); do
  echo "$(run_ns "${gunzip[@]}") $(run_ns "${replay[@]}")" >>"$pairs"
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
g=$(awk '{ print $1 }' "$pairs" | median)
r=$(awk '{ print $2 }' "$pairs" | median)
pr=$(awk '{ print $2 / $1 }' "$pairs" | median)
awk -v g="$g" -v r="$r" -v pr="$pr" -v n="$runs" 'BEGIN {
  printf "%d alternating runs each: gzip -dc %.1f ms, replay %.1f ms (medians)\n", n, g / 1e6, r / 1e6
  printf "replay / gzip -dc: %.2fx (ratio of medians), %.2fx (median of per-pair ratios); target: at most 2x\n", r / g, pr
}'

if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 3 --runs "$runs" "${gunzip[*]}" "${replay[*]}"
fi
