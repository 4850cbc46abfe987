#!/usr/bin/env bash
# The flash the C core takes in a real bare-metal program: builds the
# Cortex-M4 QEMU example (examples/baremetal/cortex-m, which also calls the
# heap check) in release at opt-level 3 and "s", and adds up the sizes of
# the core's functions and data as linked (after unused sections are
# dropped), read with arm-none-eabi-nm from the final ELF. The core's
# symbols are those its archive (libdlmalloc.a) defines.
# Needs the ARM toolchain that scripts/cross.sh installs.
# Usage: scripts/code_size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
example=$root/examples/baremetal/cortex-m
target=thumbv7em-none-eabihf

command -v arm-none-eabi-nm >/dev/null 2>&1 || {
    echo "code_size: arm-none-eabi-nm missing (run scripts/cross.sh, which installs it)" >&2
    exit 1
}

# size OPT_LEVEL: prints "text data" bytes of the core in the linked ELF.
size_at() {
    local dir=$root/target/code-size/opt-$1
    (cd "$example" && CARGO_TARGET_DIR=$dir CARGO_PROFILE_RELEASE_OPT_LEVEL=$1 \
        cargo build --release --quiet)
    local elf=$dir/$target/release/dlmalloc-qemu-cortex-m
    local archive
    archive=$(find "$dir/$target/release/build" -name libdlmalloc.a | head -n 1)
    [ -n "$archive" ] || { echo "code_size: no libdlmalloc.a under $dir" >&2; exit 1; }
    # The core's defined symbols, then their linked sizes by kind.
    arm-none-eabi-nm --defined-only "$archive" 2>/dev/null |
        awk 'NF == 3 { print $3 }' | sort -u >"$dir/core-symbols"
    arm-none-eabi-nm -S --defined-only "$elf" |
        awk -v list="$dir/core-symbols" '
            # Hexadecimal to a number (mawk has no strtonum).
            function hex(digits,    value, i) {
                value = 0
                for (i = 1; i <= length(digits); i++)
                    value = value * 16 + index("0123456789abcdef", tolower(substr(digits, i, 1))) - 1
                return value
            }
            BEGIN { while ((getline name < list) > 0) core[name] = 1 }
            NF == 4 && ($4 in core) {
                size = hex($2)
                if ($3 ~ /[tT]/) text += size; else data += size
            }
            END { printf "%d %d\n", text, data }'
}

echo "| build of the Cortex-M4 example | core text (bytes) | core data and bss (bytes) |"
echo "|---|---:|---:|"
for level in 3 s; do
    read -r text data < <(size_at "$level")
    echo "| release, opt-level $level | $text | $data |"
done
