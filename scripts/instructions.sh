#!/usr/bin/env bash
# Instructions per allocate/free pair, counted by callgrind (repeatable run
# to run, unlike time on a shared machine), for this allocator's DLMalloc
# and the hosted peers, all through the same harness
# (bench/runner/src/bin/pair_instructions.rs).
# Each count is (instructions of 2N pairs - instructions of N pairs) / N, so
# process start-up and the allocators' set-up cancel out.
# Usage: scripts/instructions.sh [SIZE...]   (default: 16 64 1024 4096)
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/callgrind.sh
source scripts/callgrind.sh
require_valgrind instructions
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(16 64 1024 4096)
rounds=20000

cargo build --release --quiet --manifest-path bench/Cargo.toml -p bench-runner --bin pair_instructions
binary=bench/target/release/pair_instructions

# count ALLOCATOR SIZE ROUNDS: instructions of one whole run.
count() {
    callgrind_count "$binary" "$1" "$2" "$3"
}

printf '| pair of | %s |\n' "ours | glibc | mimalloc | jemalloc"
printf '|---|---:|---:|---:|---:|\n'
for size in "${sizes[@]}"; do
    row="| $size B |"
    for allocator in ours glibc mimalloc jemalloc; do
        once=$(count "$allocator" "$size" "$rounds")
        twice=$(count "$allocator" "$size" $((2 * rounds)))
        row+=" $(( (twice - once) / rounds )) |"
    done
    echo "$row"
done
