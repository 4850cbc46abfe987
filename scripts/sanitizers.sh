#!/usr/bin/env bash
# Runs the tests under three checkers and prints a summary per tool:
#  1. AddressSanitizer (nightly -Zsanitizer=address): the Rust code and the
#     C core (dlmalloc-sys/build.rs adds -fsanitize=address to the core when
#     Cargo reports the sanitizer) of dlmalloc-sys, dlmalloc and
#     dlmalloc-platform-std. Note: ASan sees the core's own accesses to its
#     globals, its stack and the memory it maps, and the Rust code's
#     accesses; it cannot see a block overflow inside our heap, because
#     blocks come from our own mappings, not from ASan's malloc.
#  2. Valgrind memcheck over the release test binaries of the same crates.
#     The allocator serves its blocks from its own mmap'ed pages, which
#     memcheck treats as plain defined memory: it does not know our blocks,
#     so it checks the C core's own reads and writes (out of mapped range,
#     uninitialised values in conditions) and the leaks of the system heap,
#     not overflows between our blocks.
#  3. Miri over the Rust code that does not call C: the bare-metal
#     platform's page allocator and hooks (its own workspace) and the pure
#     parts of the dlmalloc crate (heap-check report, Stats display).
# Idempotent; installs what it needs (nightly, miri, rust-src, valgrind).
# Takes about 10 minutes on a 2-core machine. Exits non-zero if any tool
# found a problem.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
triple=x86_64-unknown-linux-gnu
target_root=${CARGO_TARGET_DIR:-$root/target}
crates=(-p dlmalloc-sys -p dlmalloc-portable -p dlmalloc-platform-std)

declare -A verdict seconds notes
order=()

# Runs "$@" as step $1 (name), recording pass/fail and duration.
step() {
    local name=$1
    shift
    order+=("$name")
    echo "== $name"
    local start
    start=$(date +%s)
    if "$@"; then verdict[$name]=passed; else verdict[$name]=FAILED; fi
    seconds[$name]=$(($(date +%s) - start))
}

setup() {
    rustup toolchain list | grep -q '^nightly' ||
        rustup toolchain install nightly --profile minimal || return 1
    rustup component add miri rust-src --toolchain nightly >/dev/null || return 1
    cargo +nightly miri setup >/dev/null || return 1
    if ! command -v valgrind >/dev/null 2>&1; then
        if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
            apt-get update -qq >/dev/null &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null ||
                return 1
        else
            echo "valgrind is missing and cannot be installed here" >&2
            return 1
        fi
    fi
}

# --- AddressSanitizer ---------------------------------------------------------
# Tests left out under ASan, with the reason:
#  - core_compiles_without_warnings*: compile the core with plain cc to look
#    at warnings; nothing for ASan to check, and a minute of compiling.
#  - free_of_a_stack_address_aborts: its premise is the usual layout, with
#    thread stacks above every heap mapping; under ASan (shadow memory,
#    its own placement of mappings) the stack lies below the heap and the
#    test's own assertion stops it before the free.
asan_skips=(--skip core_compiles_without_warnings --skip free_of_a_stack_address_aborts)

asan() {
    # Release: the instrumented debug build is several times slower and
    # the budget is ten minutes.
    RUSTFLAGS="-Zsanitizer=address" \
        ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        CARGO_TARGET_DIR="$target_root/asan" \
        cargo +nightly test --release --target "$triple" "${crates[@]}" --tests --no-fail-fast \
        -- "${asan_skips[@]}"
}

# --- Valgrind memcheck --------------------------------------------------------
# Test binaries left out, with the reason:
#  - fork, mspace_fork, fork_while_allocating, thread_cache_fork: a forked
#    child _exits without the parent's other threads, whose system-heap
#    objects memcheck then reports as definitely lost (not a leak of ours);
#    ASan runs them.
#  - c_warnings: compiles the core with cc; nothing for memcheck.
#  - stress_threads, lock_contention, lock_sleeps,
#    mspace_alloc_race: many threads, which memcheck serialises; slow and
#    covered by ASan.
#  - long_stress: its checker thread must take the global heap's lock and
#    every busy arena's in turn while eight workers keep re-taking them;
#    memcheck runs one thread at a time and switches rarely, so the checker
#    never finishes a round and the test's own check fails (natively it
#    makes about 30 rounds a second). ASan runs it; stress_arenas covers
#    the arenas under memcheck.
#  - mremap_growth: asserts where the kernel places and grows mappings;
#    valgrind places them itself.
valgrind_skip_binaries=" fork mspace_fork fork_while_allocating thread_cache_fork c_warnings
    stress_threads lock_contention lock_sleeps mspace_alloc_race mremap_growth long_stress "
# Tests that assert where the kernel puts a mapping (valgrind chooses
# differently) or how much address space a heap may reserve.
valgrind_skip_tests=(--skip realloc_in_place_never_moves --skip footprint_limit_is_enforced)
valgrind_flags=(--error-exitcode=1 --errors-for-leak-kinds=definite --leak-check=full -q)

valgrind_run() {
    local list
    list=$(mktemp)
    # name, package directory and path of every test executable.
    cargo test --release --no-run --message-format=json "${crates[@]}" 2>/dev/null |
        grep '"executable":"' |
        sed -n 's/.*"manifest_path":"\([^"]*\)\/Cargo.toml".*"name":"\([^"]*\)".*"executable":"\([^"]*\)".*/\2 \1 \3/p' \
            >"$list"
    if [ ! -s "$list" ]; then
        echo "no test binaries found (build failed?)" >&2
        rm -f "$list"
        return 1
    fi
    local logs="$target_root/valgrind-logs"
    mkdir -p "$logs"
    local failed=0 ran=0 name dir exe
    while read -r name dir exe; do
        case "$valgrind_skip_binaries" in *" $name "*) continue ;; esac
        ran=$((ran + 1))
        local log="$logs/$(basename "$dir").$name.log"
        local start
        start=$(date +%s)
        # Tests run from their package directory, as under cargo test.
        if (cd "$dir" && valgrind "${valgrind_flags[@]}" "$exe" "${valgrind_skip_tests[@]}") >"$log" 2>&1; then
            echo "  ok     $(basename "$dir")/$name ($(($(date +%s) - start)) s)"
        else
            echo "  FAILED $(basename "$dir")/$name ($(($(date +%s) - start)) s): see $log"
            grep -E '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|[0-9,]+ bytes in .* definitely)' "$log" | head -5
            failed=$((failed + 1))
        fi
    done <"$list"
    rm -f "$list"
    notes[valgrind]="$ran test binaries, $failed failed; logs in $logs"
    [ "$failed" = 0 ]
}

# --- Miri ---------------------------------------------------------------------
# Miri cannot run C: only tests that never reach the core run.
#  - dlmalloc: the library's unit tests (heap-check report, size classes;
#    those that allocate, thread_cache::tests, are compiled out under Miri)
#    and the Stats display on hand-built values.
#  - dlmalloc-platform-baremetal: the page allocator on Vec-backed regions
#    and the hooks, except three tests far too slow interpreted: the
#    randomized model comparison (10 000 steps), the frees in all 40 320
#    orders, and the lock test (spinning threads, which Miri schedules very
#    slowly). The regions are leaked on purpose (they live forever), hence
#    -Zmiri-ignore-leaks.
miri() {
    local ok=0
    MIRIFLAGS="-Zmiri-ignore-leaks" CARGO_TARGET_DIR="$target_root/miri-main" \
        cargo +nightly miri test -p dlmalloc-portable --lib --test stats_format || ok=1
    (cd dlmalloc-platform-baremetal &&
        MIRIFLAGS="-Zmiri-ignore-leaks" CARGO_TARGET_DIR="$target_root/miri-baremetal" \
            cargo +nightly miri test --test page_allocator --test hooks \
            -- --skip randomized_against_a_bitmap_model --skip frees_in_every_order_merge_completely \
            --skip the_lock_hooks_exclude_each_other) ||
        ok=1
    return $ok
}

all_start=$(date +%s)
step setup setup
step asan asan
step valgrind valgrind_run
step miri miri

echo
echo "== summary ($(($(date +%s) - all_start)) s)"
status=0
for name in "${order[@]}"; do
    printf '  %-9s %-7s %4s s  %s\n' "$name" "${verdict[$name]}" "${seconds[$name]}" "${notes[$name]:-}"
    [ "${verdict[$name]}" = passed ] || status=1
done
exit $status
