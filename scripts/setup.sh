#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust and a C compiler, when it is
# missing. Idempotent; safe to run on every test run.
#  - gcc-multilib: lets the C-core warning test also compile the core with -m32.
#  - a nightly toolchain: the `nightly` feature's core::alloc::Allocator test.
#  - rustfmt, clippy and the 1.85 toolchain (the declared rust-version): used
#    by .ci/run.
set -euo pipefail

need_apt=()
if ! echo 'int main(void){return 0;}' | cc -m32 -x c - -o /dev/null 2>/dev/null; then
    need_apt+=(gcc-multilib)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "setup: installing ${need_apt[*]}"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "setup: ${need_apt[*]} missing and cannot be installed here; the -m32 check will be skipped"
    fi
fi
if command -v rustup >/dev/null 2>&1; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
    rustup toolchain install 1.85 --profile minimal >/dev/null 2>&1 || true
    rustup toolchain list | grep -q '^nightly' ||
        rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || true
fi
