#!/usr/bin/env bash
# The native benchmark's single-threaded rows next to the Windows system
# allocator, under Wine:
#  - builds dlmalloc-platform-windows/bench (its own workspace, so ours has
#    exactly the features it asks: the defaults, thread cache on) in release for
#    x86_64-pc-windows-gnu;
#  - runs it under Wine (`cargo run` from its folder, so the runner and
#    WINEDEBUG of dlmalloc-platform-windows/.cargo/config.toml apply): ours
#    (`DLMalloc` over
#    dlmalloc-platform-windows), the process heap through `HeapAlloc`, and
#    Rust's `System` (std's wrapper around that heap) in one process; the
#    native harness's pair, churn, realloc-churn, vec-grow, strings and
#    100k-live rows, every block verified, a verification round whose
#    checksums must agree, then the median of 5 timed rounds;
#  - prints the table and writes it, with the date, load, versions and
#    method, to dlmalloc-platform-windows/bench-results.md.
# Wine's heap is not Windows': the ratios are indicative only.
# --quick (CI): a hundredth of the steps and one timed round: it proves
# that every row runs and verifies under Wine, but its times mean nothing,
# so bench-results.md is left as it is.
# Needs mingw-w64, Wine and the ProcessPrng stand-in in the Wine prefix:
# scripts/windows.sh installs them (this script says so when they are
# missing). Prints a last line starting with PASS; exits non-zero on any
# failure.
# Usage: scripts/windows_bench.sh [--quick]
set -euo pipefail # pipefail: no exit status is lost in a pipe
cd "$(dirname "$0")/.."
root=$(pwd)
bench=$root/dlmalloc-platform-windows/bench
results=$root/dlmalloc-platform-windows/bench-results.md
target=x86_64-pc-windows-gnu
package=dlmalloc-windows-bench
# shellcheck source=scripts/compare_args.sh
source "$root/scripts/compare_args.sh"
quick_flag windows_bench "${1:-}"
started=$SECONDS

# ---------------------------------------------------------------- tools

missing=()
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || missing+=("mingw-w64 (x86_64-w64-mingw32-gcc)")
command -v wine >/dev/null 2>&1 || missing+=("wine")
has_target "$target" || missing+=("the Rust target $target")
[ -f "${WINEPREFIX:-$HOME/.wine}/drive_c/windows/system32/bcryptprimitives.dll" ] ||
    missing+=("the ProcessPrng stand-in in the Wine prefix")
if [ ${#missing[@]} -gt 0 ]; then
    printf 'windows_bench: missing: %s\n' "${missing[@]}" >&2
    echo "windows_bench: run scripts/windows.sh first (it installs them)" >&2
    exit 1
fi

# ---------------------------------------------------------------- build and run

# Cargo runs in the bench's folder: it reads the parent's .cargo/config.toml.
cd "$bench"
cargo=(--quiet --locked -j 2 --release --target "$target" -p "$package")
echo "== cargo build ${cargo[*]}"
cargo build "${cargo[@]}"

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
echo "== $package ${quick:-(5 timed rounds)} under Wine, load average $load_before"
run_started=$SECONDS
status=0
# The program writes the table on stdout, its progress on stderr; it
# prints the table even when checksums differ, and then exits 1.
table=$(cargo run "${cargo[@]}" -- ${quick:+"$quick"}) || status=$?
run_seconds=$((SECONDS - run_started))
load_after=$(cut -d ' ' -f 1-3 /proc/loadavg)
echo
echo "$table"
if [ "$status" != 0 ]; then
    echo "windows_bench: $package failed (exit status $status)" >&2
    exit 1
fi

# ---------------------------------------------------------------- summary

# locked PACKAGE: its resolved version in the bench's lock file.
locked() {
    awk -v n="$1" '$1 == "name" && $3 == "\"" n "\"" { getline; gsub(/"/, "", $3); print $3; exit }' \
        "$bench/Cargo.lock"
}
# geo_means: "HeapAlloc 1.16, System 1.49" from the table's ratio columns.
geo_means() {
    awk -F'|' '
        /^\| workload \(step\)/ {
            for (i = 2; i < NF; i++) if ($i ~ / \/ ours/) { n++; name[n] = $i; col[n] = i }
        }
        /^\| geometric mean/ {
            for (k = 1; k <= n; k++) {
                v = $(col[k]); gsub(/[ *]/, "", v)
                sub(/ \/ ours/, "", name[k]); gsub(/^ +| +$/, "", name[k])
                printf "%s%s %s", (k > 1 ? ", " : ""), name[k], v
            }
        }' <<<"$table"
}
rows=$(grep -E '^\| [a-z0-9-]+ \(' <<<"$table" | grep -vc '^| workload')
summary="$rows single-threaded rows on ours, HeapAlloc and System under $(wine --version 2>/dev/null), every block verified, checksums equal; run $run_seconds s"
if [ -n "$quick" ]; then
    echo
    echo "windows_bench: --quick, so ${results#"$root"/} is left as it is ($((SECONDS - started)) s)"
    echo "PASS windows_bench --quick: $summary"
    exit 0
fi

{
    echo "# Windows: ours next to the process heap (\`HeapAlloc\`), under Wine"
    echo
    echo "Written by \`scripts/windows_bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "**Wine's heap is not Windows'**: \`HeapAlloc\` here is Wine's own"
    echo "implementation of the Windows heap, so these ratios are indicative only."
    echo
    echo "- rustc: $(rustc --version); mingw-w64: $(x86_64-w64-mingw32-gcc --version | head -n 1)"
    echo "- Wine: $(wine --version 2>/dev/null), \`WINEDEBUG=-all\`"
    echo "- crates (dlmalloc-platform-windows/bench/Cargo.lock): dlmalloc-portable $(locked dlmalloc-portable) and"
    echo "  dlmalloc-platform-windows $(locked dlmalloc-platform-windows) (this repository), windows-sys $(locked windows-sys)"
    echo "- machine: a shared 2-core VM; load average (1, 5, 15 min) $load_before before"
    echo "  the run, $load_after after it ($run_seconds s); other builds may have been running."
    echo
    echo "## Method"
    echo
    echo "- program: \`dlmalloc-platform-windows/bench\`, an x86_64-pc-windows-gnu"
    echo "  executable (mingw-w64; release profile as the native benchmark's: opt-level"
    echo "  3, 4 codegen units, no LTO), run under Wine by \`cargo run\`."
    echo "- allocators, in one process, each driven through \`&dyn GlobalAlloc\` as in"
    echo "  the native benchmark:"
    echo "  - **ours**: \`DLMalloc\` over dlmalloc-platform-windows"
    echo "    (\`VirtualAlloc\` reservations, an SRW lock) with its default features:"
    echo "    the thread cache and arenas, as a Windows program gets it;"
    echo "  - **HeapAlloc**: the process heap (\`GetProcessHeap\`) through \`HeapAlloc\`,"
    echo "    \`HeapFree\` and \`HeapReAlloc\` with no flags, in a small \`GlobalAlloc\`"
    echo "    wrapper (\`bench/src/heap.rs\`). Every layout the workloads ask (alignment"
    echo "    8, or 1 for the strings) goes straight to the heap; alignments above the"
    echo "    heap's 16 bytes are over-allocated, with the heap's address kept below"
    echo "    the block, and checked (alignments 1 to 4096, alloc, realloc, dealloc)"
    echo "    before the workloads, untimed;"
    echo "  - **System**: Rust's \`std::alloc::System\`, std's wrapper around the same"
    echo "    heap. The program's own allocations (the tables of slots, names) come"
    echo "    from it too, as in the native benchmark."
    echo "- workloads: the native benchmark's single-threaded rows, from its own files"
    echo "  (\`bench/harness/src/workloads.rs\`, \`table.rs\`, \`rng.rs\`, \`stamp.rs\`,"
    echo "  compiled as they are): the same counts, sizes, seeds and 1 s deadline per"
    echo "  run (a run past it stops, and its cell keeps that one round). The threaded"
    echo "  rows are left out: Wine's threads would be measured as much as the heaps."
    echo "- verification: every block carries a stamp in its first and last word,"
    echo "  checked before every free and realloc (a failure panics). Before the timed"
    echo "  rounds, a verification round (also the warm-up; its deadline is 20 s, so"
    echo "  every allocator makes all its steps) runs each allocator through an"
    echo "  adapter that hashes every request and the stamps of every block given"
    echo "  back; the run fails unless those checksums are equal."
    echo "- locks: the program also times an uncontended SRW lock (ours' lock hooks,"
    echo "  one lock per call into the core) and a critical section (Wine's heap"
    echo "  takes one per call) on the same host: Wine implements the SRW lock itself"
    echo "  too, and the results' header says what both cost here."
    echo "- timing: then 5 timed rounds, each starting with a different allocator so"
    echo "  that drift of the shared machine spreads over all; a cell is the median"
    echo "  ns per step, ± the spread (max - min) / median. Ratios are peer time /"
    echo "  ours: **above 1 means ours is faster**."
    echo
    echo "## Results"
    echo
    echo "$table"
} >"$results"
echo
echo "windows_bench: wrote ${results#"$root"/} ($((SECONDS - started)) s)"
echo "PASS windows_bench: $summary; geometric mean peer/ours: $(geo_means)"
