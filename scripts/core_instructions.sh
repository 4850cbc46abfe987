#!/usr/bin/env bash
# Instructions per step of the core without a cache, counted by callgrind
# (repeatable run to run, unlike time on a shared machine): a locked
# `Mspace` (what bare metal and custom platforms get), next to talc and
# rlsf, and `DLMalloc` (the hosted front end with its thread cache), all
# through the benchmark's own workloads (bench/harness), so every allocator
# pays the same verification stamps.
# Each count is (instructions of 2N steps - instructions of N steps) / N, so
# process start-up, the workload's set-up (its live blocks) and its
# teardown cancel out.
# Usage: scripts/core_instructions.sh [WORKLOAD...]
#   default: pair-16 pair-4096 churn-16-128-live1k churn-16-1k-live1k
#            churn-1k-64k-live1k realloc-16-1k-live1k
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/callgrind.sh
source scripts/callgrind.sh
require_valgrind core_instructions
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(pair-16 pair-4096 churn-16-128-live1k
    churn-16-1k-live1k churn-1k-64k-live1k realloc-16-1k-live1k)
allocators=(Mspace talc rlsf DLMalloc)
steps=20000

export CARGO_TARGET_DIR="$PWD/bench/target"
cargo build --release --quiet --manifest-path bench/Cargo.toml -p bench-runner
binary="$CARGO_TARGET_DIR/release/bench-runner"

# count ALLOCATOR WORKLOAD STEPS: instructions of one whole run.
count() {
    callgrind_count "$binary" once "$1" "$2" "$3"
}

header="| workload |"
rule="|---|"
for allocator in "${allocators[@]}"; do
    header+=" $allocator |"
    rule+="---:|"
done
echo "$header"
echo "$rule"
for workload in "${workloads[@]}"; do
    row="| $workload |"
    for allocator in "${allocators[@]}"; do
        once=$(count "$allocator" "$workload" "$steps")
        twice=$(count "$allocator" "$workload" $((2 * steps)))
        row+=" $(((twice - once) / steps)) |"
    done
    echo "$row"
done
