#!/usr/bin/env bash
# Cross-target proof of the allocator, beyond the host test suite:
#  - installs what is missing: the ARM and RISC-V gcc (the C core is built
#    for those targets), QEMU for both, gcc-multilib (i686), the Rust targets;
#  - runs the bare-metal programs of examples/baremetal/ under QEMU
#    (Cortex-M4 on mps2-an386, RISC-V 64 on virt): each must exit 0 and
#    print its PASS line;
#  - runs the core's and the safe crate's tests as 32-bit code (i686);
#  - builds the no_std crates for x86_64-unknown-none, and the bare-metal
#    platform crate for every bare-metal target; runs its host tests.
# Idempotent: installs only what is missing, so it is cheap to re-run.
# Usage: scripts/cross.sh   (as root on Debian 12 for the installs)
set -euo pipefail # pipefail: no exit status is lost in a pipe
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)
logs=$root/target/cross
mkdir -p "$logs"

# step, passed, run, and the summary they fill (printed at the end).
# shellcheck source=scripts/steps.sh
source "$root/scripts/steps.sh"

# ---------------------------------------------------------------- installs

step "install missing tools"
need_apt=()
command -v arm-none-eabi-gcc >/dev/null 2>&1 || need_apt+=(gcc-arm-none-eabi)
command -v riscv64-unknown-elf-gcc >/dev/null 2>&1 || need_apt+=(gcc-riscv64-unknown-elf)
command -v qemu-system-arm >/dev/null 2>&1 || need_apt+=(qemu-system-arm)
command -v qemu-system-riscv64 >/dev/null 2>&1 || need_apt+=(qemu-system-misc)
if ! echo 'int main(void){return 0;}' | cc -m32 -x c - -o /dev/null 2>/dev/null; then
    need_apt+=(gcc-multilib)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "cross: missing ${need_apt[*]}; run as root on Debian (apt-get), or install them" >&2
        exit 1
    fi
    echo "cross: apt-get install ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    if ! apt-get install -y -qq "${need_apt[@]}" >"$logs/apt.log" 2>&1; then
        # A machine whose qemu-utils comes from bookworm-backports cannot take
        # bookworm's QEMU 7.2 (qemu-utils 8+ breaks qemu-system-common 7.2):
        # take the system emulators from backports too, at the same version.
        codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
        if [ -z "$codename" ] || ! grep -q qemu <<<"${need_apt[*]}"; then
            cat "$logs/apt.log" >&2
            exit 1
        fi
        echo "cross: apt-get refused QEMU (installed qemu-utils: $(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null || echo none)); using ${codename}-backports"
        backports=/etc/apt/sources.list.d/${codename}-backports.sources
        if [ ! -e "$backports" ]; then
            printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' \
                "Suites: ${codename}-backports" 'Components: main' \
                'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' >"$backports"
        fi
        apt-get update -qq >/dev/null
        apt-get install -y -qq -t "${codename}-backports" "${need_apt[@]}" >"$logs/apt.log" 2>&1 ||
            { cat "$logs/apt.log" >&2; exit 1; }
    fi
fi
targets=(thumbv7em-none-eabihf riscv64gc-unknown-none-elf x86_64-unknown-none i686-unknown-linux-gnu)
installed=$(rustup target list --installed)
missing_targets=()
for target in "${targets[@]}"; do
    grep -qx "$target" <<<"$installed" || missing_targets+=("$target")
done
if [ ${#missing_targets[@]} -gt 0 ]; then
    echo "cross: rustup target add ${missing_targets[*]}"
    rustup target add "${missing_targets[@]}"
fi
arm-none-eabi-gcc --version | head -n 1
riscv64-unknown-elf-gcc --version | head -n 1
qemu-system-arm --version | head -n 1
qemu-system-riscv64 --version | head -n 1
passed "tools installed"

# ---------------------------------------------------------------- checks


# qemu DIR PASS_PREFIX: builds the program in examples/baremetal/DIR, runs
# it under QEMU through its cargo runner (from its folder, so that its
# .cargo/config.toml applies), and requires exit status 0 and a line that
# starts with PASS_PREFIX.
qemu() {
    local dir=$root/examples/baremetal/$1 pass=$2 log=$logs/qemu-$1.log status=0
    (cd "$dir" && cargo build --release) || return 1
    (cd "$dir" && timeout 120 cargo run --release) >"$log" 2>&1 || status=$?
    cat "$log"
    if [ "$status" != 0 ]; then
        echo "cross: $1 exited with status $status (124: timed out)" >&2
        return 1
    fi
    if ! grep -q "^$pass" "$log"; then
        echo "cross: $1 exited 0 but printed no line starting with '$pass'" >&2
        return 1
    fi
    pass_lines+=("$(grep "^$pass" "$log")")
}
pass_lines=()

platform=$root/dlmalloc-platform-baremetal
build_platform() {
    local target
    for target in x86_64-unknown-none thumbv7em-none-eabihf riscv64gc-unknown-none-elf; do
        echo "+ cargo build --target $target (and with --features critical-section)"
        (cd "$platform" && cargo build --target "$target" &&
            cargo build --target "$target" --features critical-section) || return 1
    done
}
test_platform() {
    (cd "$platform" && cargo test && cargo test --features critical-section)
}

run "Cortex-M4 under QEMU (examples/baremetal/cortex-m)" qemu cortex-m "PASS cortex-m:"
run "RISC-V 64 under QEMU (examples/baremetal/riscv)" qemu riscv "PASS riscv64:"
run "dlmalloc-sys and dlmalloc tests on i686" \
    cargo test --no-fail-fast -p dlmalloc-sys -p dlmalloc-portable --target i686-unknown-linux-gnu
run "dlmalloc-sys and dlmalloc build for x86_64-unknown-none" \
    cargo build -p dlmalloc-sys -p dlmalloc-portable --target x86_64-unknown-none
run "dlmalloc-platform-baremetal builds for the bare-metal targets" build_platform
run "dlmalloc-platform-baremetal host tests" test_platform

# ---------------------------------------------------------------- summary

echo
echo "== cross summary ($(($(date +%s) - start))s)"
printf '%s\n' "${summary[@]}"
if [ ${#pass_lines[@]} -gt 0 ]; then
    printf '  %s\n' "${pass_lines[@]}"
fi
if [ "$failures" -gt 0 ]; then
    echo "cross: $failures step(s) failed"
    exit 1
fi
echo "cross: all steps passed"
