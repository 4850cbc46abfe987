#!/usr/bin/env bash
# Windows proof of the allocator (dlmalloc-platform-windows, its own
# workspace), cross-built with mingw-w64 and run under Wine:
#  - installs what is missing: mingw-w64 (x86_64-w64-mingw32-gcc, which
#    `cc` picks for the C core) and Wine (apt), the Rust target;
#  - creates the Wine prefix on first use (about 20 s), and builds and
#    installs the ProcessPrng stand-in (dlmalloc-platform-windows/wine/):
#    Rust's std imports it from bcryptprimitives.dll, which Wine 8 lacks;
#  - builds the platform crate and the test DLL (examples/dll);
#  - runs the crate's tests and README example under Wine (cargo test,
#    runner from the crate's .cargo/config.toml): the platform's own tests
#    (partial release, refused ranges, lock, threads, footprint limit,
#    granularity, the double-free report, DLL load/unload), the core's
#    behaviour over it; then the thread cache's and arenas' tests
#    (tests/thread-cache, a package of its own), and the main workspace's
#    behaviour tests, unchanged (tests/linux-suite, likewise);
#  - builds the C core and the crate for x86_64-pc-windows-msvc with clang
#    in cl mode and llvm-lib (no Visual Studio, no Windows SDK: the core is
#    freestanding), without linking a program;
#  - runs scripts/windows_bench.sh --quick: the benchmark's single-threaded
#    rows on ours and the process heap (HeapAlloc), verified (the full run,
#    with times, is scripts/windows_bench.sh).
# Prints a last line starting with PASS; exits non-zero on any failure.
# Idempotent: installs only what is missing, so it is cheap to re-run.
# Usage: scripts/windows.sh   (as root on Debian 12 for the installs)
set -euo pipefail # pipefail: no exit status is lost in a pipe
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)
crate=$root/dlmalloc-platform-windows
logs=$root/target/windows
target=x86_64-pc-windows-gnu
mkdir -p "$logs"
export WINEDEBUG=-all
prefix=${WINEPREFIX:-$HOME/.wine}

# step, passed, run, and the summary they fill (printed at the end).
# shellcheck source=scripts/steps.sh
source "$root/scripts/steps.sh"

# ---------------------------------------------------------------- installs

step "install missing tools"
need_apt=()
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need_apt+=(gcc-mingw-w64-x86-64)
command -v wine >/dev/null 2>&1 || need_apt+=(wine64)
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
command -v llvm-nm >/dev/null 2>&1 || need_apt+=(llvm)
# shellcheck source=scripts/apt_install.sh
source "$root/scripts/apt_install.sh"
apt_install windows "$logs/apt.log" "${need_apt[@]}"
installed=$(rustup target list --installed)
for wanted in "$target" x86_64-pc-windows-msvc; do
    if ! grep -qx "$wanted" <<<"$installed"; then
        echo "windows: rustup target add $wanted"
        rustup target add "$wanted"
    fi
done
x86_64-w64-mingw32-gcc --version | head -n 1
# Wine nags about the missing 32-bit wine on stderr: harmless.
wine --version 2>/dev/null
passed "tools installed"

# The prefix, created once (wineboot), and the ProcessPrng stand-in in its
# system32, copied when it differs from the one built here.
wine_prefix() {
    local dll=$logs/bcryptprimitives.dll system32=$prefix/drive_c/windows/system32
    if [ ! -d "$system32" ]; then
        echo "windows: creating the Wine prefix $prefix (once, about 20 s)"
        wineboot --init >"$logs/wineboot.log" 2>&1 || { cat "$logs/wineboot.log"; return 1; }
        wineserver --wait
    fi
    x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror -shared -o "$dll" \
        "$crate/wine/processprng.c" "$crate/wine/bcryptprimitives.def" -ladvapi32 || return 1
    if ! cmp -s "$dll" "$system32/bcryptprimitives.dll"; then
        cp "$dll" "$system32/bcryptprimitives.dll"
        echo "windows: installed the ProcessPrng stand-in in $system32"
    fi
}
run "Wine prefix and the ProcessPrng stand-in" wine_prefix

# ---------------------------------------------------------------- checks

# Every cargo command runs in the crate's folder, so that its
# .cargo/config.toml applies (the Wine runner, WINEDEBUG).
cd "$crate"

# Counts the tests of a `cargo test` log, for the summary.
test_counts() {
    awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed", p, f }' "$1"
}

build() {
    cargo build -j 2 --target "$target" --workspace
}

tests() {
    local log=$logs/tests.log status=0
    cargo test -j 2 --target "$target" 2>&1 | tee "$log" || status=$?
    tests_line="tests under Wine: $(test_counts "$log")"
    return "$status"
}

# The MSVC target without Visual Studio or the Windows SDK: the core is
# freestanding, so clang in cl mode (what the clang-cl driver is) compiles
# it and llvm-lib archives it. Two checks:
#  - the core alone, with /W4 /WX (warning-free) and /GS- (the default stack
#    cookies call into the MSVC C runtime, which a kernel-mode or no-CRT
#    user lacks): the object needs only the hooks, memcpy and memset;
#  - the platform crate's library for x86_64-pc-windows-msvc through Cargo,
#    so dlmalloc-sys's build script drives `cc` with clang-cl and
#    llvm-lib. No program is linked: that needs the MSVC C runtime's and
#    the SDK's libraries.
msvc() {
    local obj=$logs/dl_all_msvc.obj bin=$logs/bin undefined expected status=0
    (cd "$root/dlmalloc-sys/csrc" &&
        clang --driver-mode=cl --target=x86_64-pc-windows-msvc /O2 /W4 /WX /GS- /c \
            "/Fo$obj" -- dl_all.c) || return 1
    undefined=$(llvm-nm --undefined-only --format=just-symbols "$obj" | sort | tr '\n' ' ')
    expected="acquire_lock custom_abort custom_mmap custom_munmap final_lock init_lock memcpy memset release_lock "
    echo "undefined: $undefined"
    [ "$undefined" = "$expected" ] || { echo "windows: expected only: $expected" >&2; return 1; }
    # `cc` recognises clang-cl by its name: a two-line wrapper provides it.
    mkdir -p "$bin"
    printf '#!/bin/sh\nexec clang --driver-mode=cl "$@"\n' >"$bin/clang-cl"
    chmod +x "$bin/clang-cl"
    # cc's compiler-family probe passes an absolute /path, which cl mode
    # reads as an option: it only warns, and the log shown leaves that
    # warning out.
    PATH=$bin:$PATH CC_x86_64_pc_windows_msvc=clang-cl AR_x86_64_pc_windows_msvc=llvm-lib \
        cargo build -j 2 --target x86_64-pc-windows-msvc --lib -p dlmalloc-platform-windows \
        >"$logs/msvc.log" 2>&1 || status=$?
    grep -v 'Compiler family detection failed' "$logs/msvc.log" || true
    [ "$status" = 0 ] || return 1
    llvm-nm --undefined-only --format=just-symbols \
        target/x86_64-pc-windows-msvc/debug/build/dlmalloc-sys-*/out/dlmalloc.lib |
        grep -v ':$' | sort -u | tr '\n' ' '
    echo
}

# package_tests DIR VAR LABEL: runs the tests of the package in $crate/DIR
# under Wine (its own package, sharing the crate's target folder) and sets
# VAR to LABEL and the counts.
package_tests() {
    local log=$logs/${1##*/}.log status=0
    (cd "$crate/$1" &&
        CARGO_TARGET_DIR=$crate/target cargo test -j 2 --target "$target") 2>&1 |
        tee "$log" || status=$?
    printf -v "$2" '%s: %s' "$3" "$(test_counts "$log")"
    return "$status"
}

# The thread cache and arenas on Windows: their tests are a package of
# their own (tests/thread-cache), since with the cache on the platform's
# tests would see arenas beside the global heap.
cache_tests() {
    package_tests tests/thread-cache cache_line "thread-cache tests under Wine"
}

# The main workspace's behaviour tests (dlmalloc-sys/tests and
# dlmalloc/tests), unchanged, on the Windows platform: a package of its
# own (tests/linux-suite), which names the Windows platform as the
# `dlmalloc-platform-std` the test files link.
linux_suite() {
    package_tests tests/linux-suite suite_line "the main behaviour tests under Wine"
}

# The benchmark against the process heap in its quick mode: every row runs
# and verifies its blocks, all checksums agree; its times mean nothing.
bench_quick() {
    (cd "$root" && bash scripts/windows_bench.sh --quick)
}

tests_line="tests under Wine: not run"
cache_line="thread-cache tests under Wine: not run"
suite_line="the main behaviour tests under Wine: not run"
run "dlmalloc-platform-windows and the test DLL build for $target" build
run "tests under Wine (cargo test --target $target)" tests
run "thread cache and arenas under Wine (tests/thread-cache)" cache_tests
run "the main workspace's behaviour tests under Wine (tests/linux-suite)" linux_suite
run "the C core and the crate build for x86_64-pc-windows-msvc (clang-cl, no SDK)" msvc
run "the benchmark's single-threaded rows against HeapAlloc, verification only (windows_bench.sh --quick)" bench_quick

# ---------------------------------------------------------------- summary

echo
echo "== windows summary ($(($(date +%s) - start))s)"
printf '%s\n' "${summary[@]}"
echo "  $tests_line"
echo "  $cache_line"
echo "  $suite_line"
if [ "$failures" -gt 0 ]; then
    echo "windows: $failures step(s) failed"
    exit 1
fi
echo "PASS windows: $target builds; $tests_line; $cache_line; $suite_line; the core and the crate build for x86_64-pc-windows-msvc; the benchmark rows run and verify under Wine"
