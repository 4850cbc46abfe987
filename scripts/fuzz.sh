#!/usr/bin/env bash
# Runs the real fuzzer (libFuzzer through cargo-fuzz, nightly) on the
# heap_ops target for the given number of seconds (default 300), with the
# C core built with its internal assertions and AddressSanitizer.
#   scripts/fuzz.sh 1800
# A crash leaves its input in fuzz/artifacts/heap_ops/; copy it to
# fuzz-driver/regressions/<name>.bin so every `cargo test` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}

rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

mkdir -p fuzz/corpus/heap_ops
# Seed the corpus with the saved regressions so the fuzzer starts from them.
cp -n fuzz-driver/regressions/*.bin fuzz/corpus/heap_ops/ 2>/dev/null || true
cd fuzz
cargo +nightly fuzz run heap_ops corpus/heap_ops -- -max_total_time="$seconds" -max_len=4096 -print_final_stats=1
