#!/usr/bin/env bash
# Runs the real fuzzer (libFuzzer through cargo-fuzz, nightly) on the
# heap_ops target for the given number of seconds (default 300), with the
# C core built with its internal assertions, AddressSanitizer and libFuzzer's
# coverage instrumentation; then the c_api target (dlmalloc-libc's C
# functions, testing/libc-tests/src/ops.rs) for as long again. Exits
# non-zero when the fuzzer finds a crash, a leak or a timeout, so
# `scripts/fuzz.sh 60` is the short CI run.
#   scripts/fuzz.sh 1800
# A crash leaves its input in testing/fuzz/artifacts/heap_ops/; minimise it with
#   cargo +nightly fuzz tmin --fuzz-dir testing/fuzz heap_ops testing/fuzz/artifacts/heap_ops/crash-...
# and copy it to testing/fuzz-driver/regressions/<name>.bin so every `cargo test`
# replays it.
#
# Why clang: cargo-fuzz instruments only the Rust code. The C core is built
# by the `cc` crate; left to gcc it gets AddressSanitizer (cc copies
# -Zsanitizer from the Rust flags) but no coverage, so libFuzzer would be
# blind to the core's branches. The `cc` crate reads CC_<target> and
# CFLAGS_<target>, so the fuzz build compiles the core with clang and the
# same coverage kinds rustc uses under cargo-fuzz (8-bit counters, PC table,
# comparison tracing), whose callbacks Rust's libfuzzer-sys provides.
# Extra libFuzzer options can follow the seconds: scripts/fuzz.sh 900 -jobs=1
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
shift || true
target=x86_64-unknown-linux-gnu
target_var=${target//-/_}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: installing clang (compiles the C core with coverage instrumentation)"
    as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq clang >/dev/null
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

export "CC_${target_var}=clang"
export "CFLAGS_${target_var}=-fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp"

mkdir -p testing/fuzz/corpus/heap_ops
# Seed the corpus with the saved regressions so the fuzzer starts from them.
cp -n testing/fuzz-driver/regressions/*.bin testing/fuzz/corpus/heap_ops/ 2>/dev/null || true
# --fuzz-dir: cargo-fuzz looks for fuzz/ under the project's root otherwise.
fuzz_dir=testing/fuzz
cargo +nightly fuzz build --fuzz-dir "$fuzz_dir" heap_ops
# c_api replaces the process's malloc, which AddressSanitizer must own:
# it runs without a sanitizer (its own checks and the heap check remain).
cargo +nightly fuzz build --sanitizer=none --fuzz-dir "$fuzz_dir" c_api

# Refuse to fuzz blind: the core's archive must carry coverage counters.
core=$(ls -t "$fuzz_dir"/target/"$target"/release/build/dlmalloc-sys-*/out/libdlmalloc.a | head -n 1)
# (nm's output is read in full first: `grep -q` closing the pipe early would
# fail the pipeline under pipefail.)
symbols=$(nm "$core" 2>/dev/null || true)
if ! grep -q '__sanitizer_cov_trace_cmp' <<<"$symbols"; then
    echo "fuzz: $core has no coverage instrumentation; is clang the C compiler?" >&2
    exit 1
fi
echo "fuzz: C core instrumented ($core)"

cargo +nightly fuzz run --fuzz-dir "$fuzz_dir" heap_ops "$fuzz_dir"/corpus/heap_ops -- \
    -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$@"

# The C functions of dlmalloc-libc (testing/libc-tests/src/ops.rs), for as
# long again.
mkdir -p "$fuzz_dir"/corpus/c_api
cargo +nightly fuzz run --sanitizer=none --fuzz-dir "$fuzz_dir" c_api "$fuzz_dir"/corpus/c_api -- \
    -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$@"
