#!/usr/bin/env bash
# wasm32 proof of the allocator (dlmalloc-platform-wasm, its own workspace):
#  - installs what is missing: clang (compiles the C core for wasm; gcc has
#    no wasm back end) and lld (wasm-ld), the two Rust targets;
#  - builds the platform crate for wasm32-unknown-unknown and wasm32-wasip1;
#  - runs its tests (and the out-of-memory test of testing/oom, linked with
#    a 16 MiB maximum memory) on wasm32-wasip1 under Node's WASI, through
#    the workspace's cargo runner (run.mjs);
#  - runs the demo (examples/demo.rs) on wasm32-wasip1;
#  - runs examples/double_free.rs on wasm32-wasip1: the core's report must
#    reach stderr (`dlmalloc: ...`) and the module must trap; again with the
#    feature short-messages;
#  - builds the wasm32-unknown-unknown cdylib of examples/cdylib and drives
#    it from Node (drive.mjs), which checks every result;
#  - builds the same module with atomics and shared memory (nightly Rust,
#    -Z build-std; the spin-lock hooks) and runs it on four Node worker
#    threads at once (threads.mjs), then through drive.mjs;
#  - runs scripts/wasm_compare.sh --quick: the size comparison against
#    dlmalloc-rs, talc, rlsf and lol_alloc, and every speed workload once,
#    verified (the full run, with times, is scripts/wasm_compare.sh).
# Prints a last line starting with PASS; exits non-zero on any failure.
# Idempotent: installs only what is missing, so it is cheap to re-run.
# Usage: scripts/wasm.sh   (as root on Debian 12 for the installs)
set -euo pipefail # pipefail: no exit status is lost in a pipe
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)
crate=$root/dlmalloc-platform-wasm
logs=$root/target/wasm
mkdir -p "$logs"

# step, passed, run, and the summary they fill (printed at the end).
# shellcheck source=scripts/steps.sh
source "$root/scripts/steps.sh"

# ---------------------------------------------------------------- installs

step "install missing tools"
need_apt=()
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
command -v wasm-ld >/dev/null 2>&1 || need_apt+=(lld)
command -v llvm-ar >/dev/null 2>&1 || need_apt+=(llvm)
# shellcheck source=scripts/apt_install.sh
source "$root/scripts/apt_install.sh"
apt_install wasm "$logs/apt.log" "${need_apt[@]}"
if ! command -v node >/dev/null 2>&1; then
    echo "wasm: node (Node.js 20 or later) is needed to run the tests" >&2
    exit 1
fi
targets=(wasm32-unknown-unknown wasm32-wasip1)
installed=$(rustup target list --installed)
missing_targets=()
for target in "${targets[@]}"; do
    grep -qx "$target" <<<"$installed" || missing_targets+=("$target")
done
if [ ${#missing_targets[@]} -gt 0 ]; then
    echo "wasm: rustup target add ${missing_targets[*]}"
    rustup target add "${missing_targets[@]}"
fi
# The atomics build rebuilds core and alloc: nightly with rust-src.
if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
    echo "wasm: rustup toolchain install nightly --profile minimal --component rust-src"
    rustup toolchain install nightly --profile minimal --component rust-src
fi
clang --version | head -n 1
wasm-ld --version | head -n 1
echo "node $(node --version)"
summary+=("ok    tools installed")

# ---------------------------------------------------------------- checks

# Every check runs in the crate's folder, so that its .cargo/config.toml
# applies (clang for the core, the Node runner).
cd "$crate"

# Counts the tests of a `cargo test` log, for the summary.
test_counts() {
    awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed", p, f }' "$1"
}

build_both() {
    local target
    for target in "${targets[@]}"; do
        echo "+ cargo build --target $target"
        cargo build --target "$target" -p dlmalloc-platform-wasm || return 1
    done
}

wasip1_tests() {
    local log=$logs/wasip1-tests.log status=0
    cargo test --target wasm32-wasip1 --workspace --exclude dlmalloc-wasm-example \
        2>&1 | tee "$log" || status=$?
    tests_line="wasip1 tests: $(test_counts "$log")"
    return "$status"
}

# The demo (examples/demo.rs, the README's command): it must end with a
# clean heap check.
demo() {
    local log=$logs/demo.log
    cargo run --release --target wasm32-wasip1 --example demo 2>&1 | tee "$log" || return 1
    grep -q '^heap check: clean' "$log" || { echo "wasm: the demo's heap check is not clean" >&2; return 1; }
}

# A detected heap error: the run must fail, after the `dlmalloc:` line
# (the one of the core's short messages with the feature short-messages).
heap_error() {
    local log=$logs/double-free${1:-}.log features=() expected='^dlmalloc: free(): double free'
    if [ "${1:-}" = -short ]; then
        features=(--features short-messages)
        expected='^dlmalloc: invalid free or realloc (double free'
    fi
    cargo build --target wasm32-wasip1 --example double_free "${features[@]}" || return 1
    if cargo run -q --target wasm32-wasip1 --example double_free "${features[@]}" >"$log" 2>&1; then
        cat "$log"
        echo "wasm: double_free exited 0; the core did not stop it" >&2
        return 1
    fi
    grep -v '^    at ' "$log"
    if ! grep -q "$expected" "$log" || ! grep -q 'RuntimeError: unreachable' "$log"; then
        echo "wasm: no dlmalloc: line matching $expected, or no trap" >&2
        return 1
    fi
}

# Builds the example module and runs its Node driver, which must exit 0
# and print its PASS line.
drive_example() {
    local log=$logs/example.log wasm=target/wasm32-unknown-unknown/release/dlmalloc_wasm_example.wasm
    cargo build --release --target wasm32-unknown-unknown -p dlmalloc-wasm-example || return 1
    node examples/cdylib/drive.mjs "$wasm" 2>&1 | tee "$log" || return 1
    grep -q '^PASS' "$log" || { echo "wasm: the driver printed no PASS line" >&2; return 1; }
    example_line=$(grep '^PASS' "$log")
}

# The example module with atomics: shared, imported memory (as a browser
# or Node shares it between workers), the C core with atomics too (its
# build.rs follows the target features), and the stack pointer exported so
# each worker can be given a stack of its own.
atomics() {
    local log=$logs/atomics.log wasm=target/atomics/wasm32-unknown-unknown/release/dlmalloc_wasm_example.wasm
    RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=67108864 -C link-arg=--export=__stack_pointer" \
        cargo +nightly build --release -Z build-std=core,alloc --target wasm32-unknown-unknown \
        -p dlmalloc-wasm-example --target-dir target/atomics || return 1
    { node examples/cdylib/threads.mjs "$wasm" && node examples/cdylib/drive.mjs "$wasm"; } 2>&1 |
        tee "$log" || return 1
    [ "$(grep -c '^PASS' "$log")" = 2 ] || { echo "wasm: expected two PASS lines" >&2; return 1; }
    atomics_line=$(grep '^PASS threads' "$log")
}

# The size and speed comparison in its quick mode: every module built,
# checked under Node, every workload verified; its times mean nothing.
compare() {
    local log=$logs/compare.log
    (cd "$root" && bash scripts/wasm_compare.sh --quick) 2>&1 | tee "$log" || return 1
    compare_line=$(grep '^PASS' "$log" | sed 's/^PASS wasm_compare[^:]*: //')
    [ -n "$compare_line" ] || { echo "wasm: wasm_compare printed no PASS line" >&2; return 1; }
}

compare_line="size and speed: not run"
tests_line="wasip1 tests: not run"
atomics_line="atomics: not run"
example_line="example: not run"
run "dlmalloc-platform-wasm builds for ${targets[*]}" build_both
run "tests on wasm32-wasip1 under Node (cargo test, runner run.mjs)" wasip1_tests
run "the demo on wasm32-wasip1 under Node" demo
run "a double free on wasm32-wasip1 is reported on stderr and traps" heap_error
run "the same with the feature short-messages" heap_error -short
run "wasm32-unknown-unknown example module driven from Node" drive_example
run "the example with atomics on Node worker threads (nightly, build-std)" atomics
run "size and speed against the peers, verification only (wasm_compare.sh --quick)" compare

# ---------------------------------------------------------------- summary

echo
echo "== wasm summary ($(($(date +%s) - start))s)"
printf '%s\n' "${summary[@]}"
echo "  $tests_line"
echo "  $example_line"
echo "  $atomics_line"
echo "  $compare_line"
if [ "$failures" -gt 0 ]; then
    echo "wasm: $failures step(s) failed"
    exit 1
fi
echo "PASS wasm: both targets build; $tests_line; example module checked under Node, also with atomics on 4 threads; $compare_line"
