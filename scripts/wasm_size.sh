#!/usr/bin/env bash
# wasm module size of this allocator next to the others a wasm32 program
# can use (dlmalloc-platform-wasm/size, its own small workspace):
#  - installs what is missing: clang, lld and llvm (the C core for wasm),
#    binaryen (wasm-opt), wabt (wasm-objdump), the wasm32-unknown-unknown
#    target;
#  - builds the same program (size/common.rs: a Vec<u32>, a String and a
#    BTreeMap<u32, u32>, no core::fmt) as a wasm32-unknown-unknown cdylib
#    once per global allocator: ours (DLMalloc + dlmalloc-platform-wasm),
#    dlmalloc-rs (what std uses on wasm), talc, rlsf, lol_alloc, and a
#    20-line bump allocator that never frees (the baseline); each at
#    opt-level "z" and "s" (LTO, one codegen unit, panic=abort, stripped),
#    then through wasm-opt -Oz;
#  - runs run(1000) of every module under Node (size/check.mjs): all must
#    return the checksum the script computes;
#  - prints a Markdown table of module bytes and allocator bytes (module
#    minus the bump baseline), and a second one of the code, data and
#    export section bytes at "z" (wasm-objdump -h), and writes both, with
#    the date, rustc and crate versions and the method, to
#    dlmalloc-platform-wasm/size/results.md.
# Prints a last line starting with PASS; exits non-zero on any failure.
# Usage: scripts/wasm_size.sh   (as root on Debian 12 for the installs)
set -euo pipefail # pipefail: no exit status is lost in a pipe
cd "$(dirname "$0")/.."
root=$(pwd)
size=$root/dlmalloc-platform-wasm/size
out=$root/target/wasm-size
target=wasm32-unknown-unknown
mkdir -p "$out"

# crate folder under size/ (the .wasm is size_<folder>)=name in the table.
allocators=(
    "ours=ours (\`DLMalloc\` + dlmalloc-platform-wasm)"
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
apt_install wasm_size "$out/apt.log" "${need_apt[@]}"
if ! command -v node >/dev/null 2>&1; then
    echo "wasm_size: node (Node.js 20 or later) is needed to run the modules" >&2
    exit 1
fi
if ! rustup target list --installed | grep -qx "$target"; then
    echo "wasm_size: rustup target add $target"
    rustup target add "$target"
fi

# ---------------------------------------------------------------- build

# Two jobs: the builds are small, and other work may share the machine.
# The C core's compiler comes from dlmalloc-platform-wasm/.cargo/config.toml
# (cargo reads it from this folder's parent).
for profile in release release-s; do
    echo "== cargo build --profile $profile --target $target"
    (cd "$size" && CARGO_TARGET_DIR=$out cargo build --quiet --locked -j 2 \
        --profile "$profile" --target "$target")
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

# ---------------------------------------------------------------- run

for opt in z s; do
    echo "== run(1000) under Node, opt-level $opt (after wasm-opt -Oz)"
    files=()
    for entry in "${allocators[@]}"; do files+=("$out/opt/$opt/${entry%%=*}.wasm"); done
    node "$size/check.mjs" 1000 "${files[@]}"
done

# ---------------------------------------------------------------- table

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

# The resolved version of a package in size/Cargo.lock.
locked() {
    awk -v n="$1" '$1 == "name" && $3 == "\"" n "\"" { getline; gsub(/"/, "", $3); print $3; exit }' \
        "$size/Cargo.lock"
}
versions="dlmalloc-portable $(locked dlmalloc-portable) (this workspace), dlmalloc $(locked dlmalloc), talc $(locked talc), rlsf $(locked rlsf), lol_alloc $(locked lol_alloc)"
{
    echo "# wasm module size by allocator"
    echo
    echo "Written by \`scripts/wasm_size.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo
    echo "- rustc: $(rustc --version)"
    echo "- wasm-opt: $(wasm-opt --version); clang: $(clang --version | head -n 1)"
    echo "- crates (size/Cargo.lock): $versions"
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
} >"$size/results.md"
echo
echo "wasm_size: wrote ${size#"$root"/}/results.md"
echo "PASS wasm_size: $((${#allocators[@]})) modules at opt-level z and s built, run(1000) checksums agree; ours $((module[z,ours] - module[z,bump])) allocator bytes at z (dlmalloc-rs $((module[z,dlmalloc-rs] - module[z,bump])))"
