#!/usr/bin/env bash
# Measures what the core's hardening costs, as ratios to the default build:
# `footers` (an owner tag on every chunk, checked on free) and `insecure`
# (the always-on integrity checks compiled out; never for shipping).
# Builds bench/hardening-cost/ three times (features none / footers / insecure,
# each in its own target directory), then runs the three builds in turn for
# ROUNDS rounds (default 11), rotating their order every round so a drift
# in the machine's speed touches each variant alike, and prints the median
# CPU time per operation of each workload and variant as a markdown table
# (each process runs each workload three times and reports its fastest).
# When valgrind is installed it then counts instructions per operation of
# each workload once per variant (callgrind, collecting only the timed
# function): repeatable run to run, where CPU time on a shared VM is not.
# Not run in CI: timings on a shared machine are a measurement, not a test.
# Usage: scripts/hardening_cost.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-${ROUNDS:-11}}
variants=(default footers insecure)

bin_of() { echo "target/hardening-cost/$1/release/hardening-cost"; }

for v in "${variants[@]}"; do
    features=()
    if [ "$v" != default ]; then features=(--features "$v"); fi
    echo "== build $v" >&2
    CARGO_TARGET_DIR="target/hardening-cost/$v" \
        cargo build --release --quiet --manifest-path bench/hardening-cost/Cargo.toml "${features[@]}"
done

samples=$(mktemp)
trap 'rm -f "$samples"' EXIT
for ((r = 0; r < rounds; r++)); do
    echo "== round $((r + 1))/$rounds" >&2
    for ((i = 0; i < ${#variants[@]}; i++)); do
        v=${variants[(r + i) % ${#variants[@]}]}
        "$(bin_of "$v")" run "$v" >>"$samples"
    done
done

echo "Measured $(date -u +%Y-%m-%d) on $(nproc) CPUs ($(uname -m)," \
    "$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//' || echo unknown CPU))," \
    "$rounds rounds, CPU time per operation:"
echo
"$(bin_of default)" report <"$samples"

if ! command -v valgrind >/dev/null; then
    echo
    echo "(valgrind not installed: no instruction counts)"
    exit 0
fi
counts=$(mktemp)
trap 'rm -f "$samples" "$counts"' EXIT
for v in "${variants[@]}"; do
    for w in pairs churn; do
        case $w in
            pairs) fn='*alloc_free_pairs*' ;;
            churn) fn='*timed_churn*' ;;
        esac
        echo "== instructions: $v $w" >&2
        # One tenth of the operations (still three times over: the count
        # is divided by all of them): callgrind runs ~50x slower.
        out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "--toggle-collect=$fn" "$(bin_of "$v")" run "$v" "$w" 10 2>&1)
        line=$(grep -P '^\Q'"$v"'\E\t' <<<"$out")
        collected=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$out")
        ops=$(cut -f4 <<<"$line")
        workload=$(cut -f2 <<<"$line")
        awk -v v="$v" -v w="$workload" -v ir="$collected" -v ops="$ops" \
            'BEGIN { printf "%s\t%s\t%.1f\t%d\n", v, w, ir / ops, ops }' >>"$counts"
    done
done
echo
echo "Instructions per operation (valgrind --tool=callgrind, one run each):"
echo
"$(bin_of default)" report instructions <"$counts"
