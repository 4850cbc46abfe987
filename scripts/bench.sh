#!/usr/bin/env bash
# Runs the allocator benchmark: builds bench/ (its own workspace) in release
# and measures this project's allocators against the peers, then writes
# bench/results/results.{md,csv,svg}; then runs the real programs with each
# allocator as the global one and writes bench/results/programs.{md,csv}.
#
#   scripts/bench.sh           full run (about 7-10 minutes on 2 cores, build included)
#   scripts/bench.sh --quick   CI: every workload once with small counts;
#                              checks that each ran and verified its blocks,
#                              judges no time; writes to bench/target/quick-results
#
# Times are never asserted. The script fails when a build fails, when an
# allocator corrupts, loses or misaligns a block, or when a workload did
# not run for some allocator.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$root/bench"
quick=()
out="$bench/results"
case "${1:-}" in
    --quick) quick=(--quick); out="$bench/target/quick-results" ;;
    "") ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

# The bench workspace keeps its own target dir (bench/target), so it never
# waits on the main workspace's build lock and never rebuilds it.
export CARGO_TARGET_DIR="$bench/target"
start=$(date +%s)
cargo build --release --manifest-path "$bench/Cargo.toml" \
    -p bench-runner -p bench-runner-portable -p bench-programs
built=$(date +%s)
echo "bench: built in $((built - start)) s"

# Quick runs keep their raw rows apart, so they never replace a full run's.
raw="$bench/target/raw${quick:+-quick}"
mkdir -p "$raw" "$out"
rm -f "$raw"/*.csv
"$CARGO_TARGET_DIR/release/bench-runner" run "${quick[@]}" --out "$raw/main.csv"
"$CARGO_TARGET_DIR/release/bench-runner-portable" run "${quick[@]}" --out "$raw/portable.csv"
"$CARGO_TARGET_DIR/release/bench-programs" "${quick[@]}" --out "$out"
end=$(date +%s)
echo "bench: measured in $((end - built)) s, total $((end - start)) s; results in $out"
# Last, so its "N passed, 0 failed" line closes the output.
"$CARGO_TARGET_DIR/release/bench-runner" report "${quick[@]}" --out "$out" \
    "$raw/main.csv" "$raw/portable.csv"
