#!/usr/bin/env bash
# Formatting, clippy (-D warnings) and rustdoc (-D warnings) over every
# workspace in the repository, from one list. The repository has several
# workspaces because some crates cannot share one (see the root Cargo.toml):
# a crate missing here would never be linted.
# Each workspace is checked from its own folder, so a folder's
# .cargo/config.toml (the QEMU programs' target) applies.
# Needs the cross compilers that scripts/cross.sh installs (the bare-metal
# programs build the C core for their targets); .ci/run runs that first.
# Usage: scripts/lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# folder | extra arguments for clippy and doc (one set per line; a folder may
# appear more than once to be checked with other features)
workspaces=(
    ".|--workspace"
    "dlmalloc-platform-baremetal|"
    "dlmalloc-platform-baremetal|--features critical-section"
    "examples/baremetal/cortex-m|"
    "examples/baremetal/riscv|"
    "dlmalloc-platform-wasm|--workspace --target wasm32-wasip1"
    "dlmalloc-platform-wasm|--workspace --target wasm32-unknown-unknown"
    "dlmalloc-platform-wasm/size|--workspace --target wasm32-unknown-unknown"
    "dlmalloc-platform-wasm/speed|--target wasm32-unknown-unknown --features ours"
    "dlmalloc-platform-wasm/speed|--target wasm32-unknown-unknown --features talc"
    "dlmalloc-platform-windows|--workspace --target x86_64-pc-windows-gnu"
    "dlmalloc-platform-windows/bench|--target x86_64-pc-windows-gnu"
    "dlmalloc-platform-windows/tests/thread-cache|--target x86_64-pc-windows-gnu"
    "dlmalloc-platform-windows/tests/linux-suite|--target x86_64-pc-windows-gnu"
    "testing/fuzz|"
    "bench|--workspace"
    "bench/hardening-cost|"
    "bench/hardening-cost|--features footers"
    "bench/hardening-cost|--features insecure"
)

for tool in arm-none-eabi-gcc riscv64-unknown-elf-gcc; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "lint: $tool missing; run scripts/cross.sh first (it installs it)" >&2; exit 1; }
done
for tool in clang llvm-ar wasm-ld; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "lint: $tool missing; run scripts/wasm.sh first (it installs it)" >&2; exit 1; }
done
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 ||
    { echo "lint: x86_64-w64-mingw32-gcc missing; run scripts/windows.sh first (it installs it)" >&2; exit 1; }

failures=()
check() {
    local name=$1 dir=$2
    shift 2
    echo "== $name ($dir): $*"
    if ! (cd "$root/$dir" && "$@"); then
        failures+=("$name in $dir: $*")
    fi
}

formatted=()
for entry in "${workspaces[@]}"; do
    dir=${entry%%|*}
    read -r -a args <<<"${entry#*|}"
    # The bare-metal programs and the wasm comparison modules are no_std,
    # with a panic handler of their own and no test harness: --all-targets
    # would ask for one.
    targets=(--all-targets)
    case $dir in examples/baremetal/* | dlmalloc-platform-wasm/size | dlmalloc-platform-wasm/speed) targets=() ;; esac
    check clippy "$dir" cargo clippy --quiet "${args[@]}" "${targets[@]}" -- -D warnings
    RUSTDOCFLAGS="-D warnings" check rustdoc "$dir" cargo doc --quiet --no-deps "${args[@]}"
    if [[ " ${formatted[*]} " != *" $dir "* ]]; then
        check rustfmt "$dir" cargo fmt --all -- --check
        formatted+=("$dir")
    fi
done

if [ ${#failures[@]} -gt 0 ]; then
    printf 'lint: FAILED %s\n' "${failures[@]}" >&2
    exit 1
fi
echo "lint: every workspace is formatted, clippy-clean and rustdoc-clean (${#workspaces[@]} configurations)"
