#!/usr/bin/env bash
# wasm module size and speed of this allocator next to the others a wasm32
# program can use, in one run:
#  - installs what is missing: clang, lld and llvm (the C core for wasm),
#    binaryen (wasm-opt), wabt (wasm-objdump), the wasm32-unknown-unknown
#    target;
#  - size (dlmalloc-platform-wasm/size, its own small workspace): builds
#    the same program (size/common.rs: a Vec<u32>, a String and a
#    BTreeMap<u32, u32>, no core::fmt) as a wasm32-unknown-unknown cdylib
#    once per global allocator: ours (DLMalloc + dlmalloc-platform-wasm),
#    dlmalloc-rs (what std uses on wasm), talc, rlsf, lol_alloc, and a
#    20-line bump allocator that never frees (the baseline); each at
#    opt-level "z" and "s" (LTO, one codegen unit, panic=abort, stripped),
#    then through wasm-opt -Oz; runs run(1000) of every module under Node
#    (size/check.mjs): all must return the checksum the script computes;
#  - speed (dlmalloc-platform-wasm/speed, its own workspace): builds the
#    native benchmark's pair, churn and realloc-churn workloads and a
#    fixed-heap fill at opt-level 3 with LTO, once per allocator (bump
#    excepted: it never frees), and runs them under Node (speed/bench.mjs):
#    median ns per step of 5 rounds with the allocators interleaved, every
#    module's checksum equal, and the share of a 16 MiB memory each lets a
#    program fill before allocation returns null;
#  - prints the tables (module and allocator bytes at "z" and "s", section
#    bytes at "z", ns per step with peer/ours ratios, fixed-heap fill) and
#    writes them, with the date, machine load, tool and crate versions and
#    the method, to dlmalloc-platform-wasm/results.md.
# --quick (CI): the same builds and size checks, and every speed workload
# with a hundredth of its steps, once: it proves they run and verify, but
# its times mean nothing, so results.md is left as it is.
# Prints a last line starting with PASS; exits non-zero on any failure.
# Usage: scripts/wasm_compare.sh [--quick]   (as root on Debian 12 for the
# installs)
set -euo pipefail # pipefail: no exit status is lost in a pipe
cd "$(dirname "$0")/.."
root=$(pwd)
wasm=$root/dlmalloc-platform-wasm
size=$wasm/size
speed=$wasm/speed
results=$wasm/results.md
out=$root/target/wasm-compare
target=wasm32-unknown-unknown
# shellcheck source=scripts/compare_args.sh
source "$root/scripts/compare_args.sh"
quick_flag wasm_compare "${1:-}"
mkdir -p "$out"
started=$SECONDS

# crate folder under size/ (the .wasm is size_<folder>; also the allocator's
# feature of the speed crate)=name in the table.
allocators=(
    "ours=ours (\`DLMalloc\` + dlmalloc-platform-wasm)"
    "ours-short=ours, feature short-messages"
    "dlmalloc-rs=dlmalloc-rs (\`GlobalDlmalloc\`)"
    "talc=talc (\`wasm::WasmDynamicTalc\`)"
    "rlsf=rlsf (\`SmallGlobalTlsf\`)"
    "lol_alloc=lol_alloc (\`AssumeSingleThreaded<FreeListAllocator>\`)"
    "bump=bump baseline (never frees)"
)
# wasm-opt cannot read the target-features section of a stripped module:
# name the features rustc's wasm32 target enables (bulk memory and the
# others on by default since Rust 1.82).
wasm_opt_features=(--enable-bulk-memory --enable-sign-ext --enable-mutable-globals
    --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue)

# ---------------------------------------------------------------- installs

need_apt=()
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
command -v wasm-ld >/dev/null 2>&1 || need_apt+=(lld)
command -v llvm-ar >/dev/null 2>&1 || need_apt+=(llvm)
command -v wasm-opt >/dev/null 2>&1 || need_apt+=(binaryen)
command -v wasm-objdump >/dev/null 2>&1 || need_apt+=(wabt)
# shellcheck source=scripts/apt_install.sh
source "$root/scripts/apt_install.sh"
apt_install wasm_compare "$out/apt.log" "${need_apt[@]}"
if ! command -v node >/dev/null 2>&1; then
    echo "wasm_compare: node (Node.js 20 or later) is needed to run the modules" >&2
    exit 1
fi
if ! has_target "$target"; then
    echo "wasm_compare: rustup target add $target"
    rustup target add "$target"
fi

# ---------------------------------------------------------------- size: build

# Two jobs: the builds are small, and other work may share the machine.
# The C core's compiler comes from dlmalloc-platform-wasm/.cargo/config.toml
# (cargo reads it from this folder's parent).
# ours-short is built on its own: in one build, Cargo would unify the
# platform crate's features and give short messages to ours too.
for profile in release release-s; do
    for packages in "--workspace --exclude size-ours-short" "-p size-ours-short"; do
        echo "== cargo build --profile $profile --target $target $packages"
        # shellcheck disable=SC2086 # $packages is two or three words
        (cd "$size" && CARGO_TARGET_DIR=$out cargo build --quiet --locked -j 2 \
            --profile "$profile" --target "$target" $packages)
    done
done

# bytes OPT CRATE: the module's size after wasm-opt -Oz (also keeps it).
bytes() {
    local profile=release dir=$out/opt
    [ "$1" = s ] && profile=release-s
    local wasm=$out/$target/$profile/size_${2//-/_}.wasm
    mkdir -p "$dir/$1"
    wasm-opt -Oz "${wasm_opt_features[@]}" "$wasm" -o "$dir/$1/$2.wasm"
    stat -c %s "$dir/$1/$2.wasm"
}

declare -A module
for opt in z s; do
    for entry in "${allocators[@]}"; do
        crate=${entry%%=*}
        module[$opt,$crate]=$(bytes "$opt" "$crate")
    done
done

# ---------------------------------------------------------------- size: run

for opt in z s; do
    echo "== run(1000) under Node, opt-level $opt (after wasm-opt -Oz)"
    files=()
    for entry in "${allocators[@]}"; do files+=("$out/opt/$opt/${entry%%=*}.wasm"); done
    node "$size/check.mjs" 1000 "${files[@]}"
done

# ---------------------------------------------------------------- size: tables

table=$(
    echo "| allocator | module bytes (z) | allocator bytes (z) | module bytes (s) | allocator bytes (s) |"
    echo "|---|---:|---:|---:|---:|"
    for entry in "${allocators[@]}"; do
        crate=${entry%%=*} name=${entry#*=}
        row="| $name"
        for opt in z s; do
            m=${module[$opt,$crate]}
            if [ "$crate" = bump ]; then
                row+=" | $m | 0 (baseline)"
            else
                row+=" | $m | $((m - ${module[$opt,bump]}))"
            fi
        done
        echo "$row |"
    done
)
echo
echo "$table"

# section OPT CRATE NAME: the bytes of that section of the module (0 if none).
section() {
    local hex
    hex=$(wasm-objdump -h "$out/opt/$1/$2.wasm" |
        awk -v n="$3" '$1 == n { sub(/.*size=0x/, ""); sub(/\).*/, ""); print }')
    echo $((16#${hex:-0}))
}
sections=$(
    echo "| allocator (z) | code | data | export | code - baseline | data - baseline |"
    echo "|---|---:|---:|---:|---:|---:|"
    bc=$(section z bump Code) bd=$(section z bump Data)
    for entry in "${allocators[@]}"; do
        crate=${entry%%=*} name=${entry#*=}
        c=$(section z "$crate" Code) d=$(section z "$crate" Data) e=$(section z "$crate" Export)
        echo "| $name | $c | $d | $e | $((c - bc)) | $((d - bd)) |"
    done
)
echo
echo "$sections"

# ---------------------------------------------------------------- speed

# One build per allocator feature into its own target folder (the profile
# is opt-level 3, not the size crates' "z"); each module is kept under the
# allocator's name, as cargo writes every build to the same file.
speed_crates=()
for entry in "${allocators[@]}"; do
    crate=${entry%%=*}
    # bump never frees (the churns would exhaust memory); ours-short runs
    # the same code as ours but for the text of its error messages.
    case $crate in bump | ours-short) continue ;; esac
    speed_crates+=("$crate")
    echo "== cargo build --release --target $target --features $crate (speed)"
    (cd "$speed" && CARGO_TARGET_DIR=$out/speed cargo build --quiet --locked -j 2 \
        --release --target "$target" --features "$crate")
    mkdir -p "$out/speed-modules"
    cp "$out/speed/$target/release/wasm_speed.wasm" "$out/speed-modules/$crate.wasm"
done

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
echo "== speed/bench.mjs ${quick:-(5 timed rounds)} under Node, load average $load_before"
bench_args=()
for crate in "${speed_crates[@]}"; do bench_args+=("$crate=$out/speed-modules/$crate.wasm"); done
speed_started=$SECONDS
speed_tables=$(node "$speed/bench.mjs" ${quick:+"$quick"} "${bench_args[@]}")
speed_seconds=$((SECONDS - speed_started))
load_after=$(cut -d ' ' -f 1-3 /proc/loadavg)
echo
echo "$speed_tables"

# locked LOCKFILE PACKAGE: the resolved version of PACKAGE.
locked() {
    awk -v n="$2" '$1 == "name" && $3 == "\"" n "\"" { getline; gsub(/"/, "", $3); print $3; exit }' "$1"
}
# versions LOCKFILE: the allocators' versions in one lock file.
versions() {
    echo "dlmalloc-portable $(locked "$1" dlmalloc-portable) (this workspace), dlmalloc $(locked "$1" dlmalloc), talc $(locked "$1" talc), rlsf $(locked "$1" rlsf), lol_alloc $(locked "$1" lol_alloc)"
}
versions=$(versions "$size/Cargo.lock")
if [ "$(versions "$speed/Cargo.lock")" != "$versions" ]; then
    versions="size/Cargo.lock: $versions; speed/Cargo.lock: $(versions "$speed/Cargo.lock")"
fi
summary="${#allocators[@]} modules at opt-level z and s built, run(1000) checksums agree; ${#speed_crates[@]} speed modules verified with equal checksums; ours $((module[z,ours] - module[z,bump])) allocator bytes at z, $((module[z,ours-short] - module[z,bump])) with short-messages (dlmalloc-rs $((module[z,dlmalloc-rs] - module[z,bump])))"
if [ -n "$quick" ]; then
    echo
    echo "wasm_compare: --quick, so ${results#"$root"/} is left as it is ($((SECONDS - started)) s)"
    echo "PASS wasm_compare --quick: $summary"
    exit 0
fi

{
    echo "# wasm allocators: module size and speed"
    echo
    echo "Written by \`scripts/wasm_compare.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo
    echo "- rustc: $(rustc --version); Node $(node --version)"
    echo "- wasm-opt: $(wasm-opt --version); clang: $(clang --version | head -n 1)"
    echo "- crates (size/Cargo.lock and speed/Cargo.lock): $versions"
    echo
    echo "## Size"
    echo
    echo "- program: \`common.rs\` (a \`Vec<u32>\` of n items, a \`String\`, a"
    echo "  \`BTreeMap<u32, u32>\` of n entries with half removed; no \`core::fmt\`),"
    echo "  a wasm32-unknown-unknown cdylib exporting \`run(n)\`; every module returned"
    echo "  the expected checksum for n = 1000 under Node $(node --version)."
    echo "- build: opt-level \"z\" or \"s\", lto = true, codegen-units = 1,"
    echo "  panic = \"abort\", strip = true, debug = false; then \`wasm-opt -Oz\`."
    echo "  Module bytes are the file size after wasm-opt."
    echo "- method: allocator bytes = module bytes - module bytes of the same"
    echo "  program over a bump allocator that never frees (\`bump/\`, ~20 lines,"
    echo "  grows memory with \`memory.grow\`). So they are the bytes an allocator"
    echo "  costs beyond the least a heap needs, and include its exports (ours"
    echo "  exports its platform hooks, \`#[no_mangle]\` functions of"
    echo "  dlmalloc-platform-wasm, as a cdylib exports every such function)."
    echo
    echo "$table"
    echo
    echo "Where the bytes are, at \"z\" after wasm-opt (section sizes from"
    echo "\`wasm-objdump -h\`; data is the initialised data: constants and strings):"
    echo
    echo "$sections"
    echo
    echo "## Speed and fixed-heap fill"
    echo
    echo "- program: \`speed/\`, one wasm32-unknown-unknown cdylib built once per"
    echo "  allocator (a Cargo feature picks the \`#[global_allocator]\`; the bump"
    echo "  baseline is left out, it never frees), opt-level 3, lto = true,"
    echo "  codegen-units = 1, panic = \"abort\"; no wasm-opt. Run by"
    echo "  \`speed/bench.mjs\` under Node $(node --version) with \`--no-liftoff\`"
    echo "  (every function compiled by the optimising tier before it runs)."
    echo "- workloads: the native benchmark's (\`bench/harness\`) pair, churn and"
    echo "  realloc-churn workloads with its counts, sizes and seeds (its \`rng.rs\`"
    echo "  and \`stamp.rs\` are compiled into the module as they are): every block"
    echo "  is stamped at both ends and checked before it is freed or resized, a"
    echo "  failed check traps, and every module returned the same checksum of the"
    echo "  stamps it checked. A churn's time includes filling its table and"
    echo "  freeing it, as natively. A run stops at a 1 s deadline (clock lent by"
    echo "  the driver) and that allocator keeps the one round (\"capped\")."
    echo "- timing: one warm-up round, then the median of 5 rounds, each round"
    echo "  starting with a different allocator; a fresh instance per workload."
    echo "  Ratios are peer time / ours: **above 1 means ours is faster**."
    echo "- machine: a shared 2-core VM; load average (1, 5, 15 min) $load_before"
    echo "  before the speed run, $load_after after it ($speed_seconds s); other"
    echo "  builds may have been running."
    echo "- fixed-heap fill: the native arena fill (same seed): blocks of random"
    echo "  size, three allocations to one free of a random live block, until"
    echo "  allocation returns null, on a fresh instance whose memory maximum the"
    echo "  driver sets to 16 MiB. Score: the most bytes live at once (as asked)"
    echo "  over the heap, the memory from \`__heap_base\` to the 16 MiB cap (the"
    echo "  static data, including the workloads' 1.6 MB table of slots, and the"
    echo "  1 MiB stack lie below it, the same for every module). Higher is"
    echo "  better; an allocator that traps instead of returning null shows"
    echo "  \"trap\"."
    echo
    echo "$speed_tables"
} >"$results"
echo
echo "wasm_compare: wrote ${results#"$root"/} ($((SECONDS - started)) s)"
echo "PASS wasm_compare: $summary"
