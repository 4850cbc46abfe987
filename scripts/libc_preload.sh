#!/usr/bin/env bash
# Real programs over dlmalloc-libc through LD_PRELOAD.
#
# The library's own tests link C code against the rlib; this script checks
# the other use, the cdylib replacing glibc's malloc in programs that were
# never built for it: python3, sort, gcc and g++, awk, git (bash included),
# and C/C++ test programs in testing/libc-preload/ written for the hard
# cases: threads passing blocks between them, allocation in constructors,
# destructors, atexit handlers and thread-exit destructors, fork while
# other threads allocate, C++ new/delete and containers, and the edges of
# the aligned and overflow-checked API.
#
# Each program runs twice, with glibc's malloc and with
# LD_PRELOAD=<the library>, each run bounded by `timeout 120` (a hang
# fails, exit status 124, instead of blocking CI), and the two runs must
# give byte-identical stdout, the same exit status and, where a program's
# stderr is deterministic, the same stderr. Most programs' output does not
# depend on the allocator at all, so any difference is a bug; the C
# programs also check their blocks' contents themselves and exit non-zero
# on a mismatch. A first step checks that the preload takes effect at all:
# the loader only warns when it cannot load a preloaded library, and runs
# the program with glibc's malloc (every comparison would then pass).
#
# Prints one line per program (ok or FAILED, with the differing lines on a
# failure) and ends with "PASS: N passed, 0 failed" or "FAIL: ...", exiting
# non-zero on a failure. One to two minutes on a 2-core machine.
#
#   scripts/libc_preload.sh                  builds and tests our library
#   DLMALLOC_LIBC_SO=/path/lib.so scripts/libc_preload.sh
#                                            tests another malloc library (no build);
#                                            entry points it lacks are then only reported
#
# Installs what is missing (python3, git, gcc, g++) with apt-get, as root.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
src=$root/testing/libc-preload
start=$(date +%s)

# ---------------------------------------------------------------- installs

need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v awk >/dev/null 2>&1 || need_apt+=(mawk)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "libc_preload: missing ${need_apt[*]}; run as root on Debian (apt-get), or install them" >&2
        exit 1
    fi
    echo "libc_preload: apt-get install ${need_apt[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# ---------------------------------------------------------------- builds

if [ -n "${DLMALLOC_LIBC_SO:-}" ]; then
    so=$DLMALLOC_LIBC_SO
    ours=0
    echo "libc_preload: testing $so (DLMALLOC_LIBC_SO)"
else
    echo "== cargo build --release -p dlmalloc-libc"
    cargo build --release -p dlmalloc-libc
    so=$root/target/release/libdlmalloc_libc.so
    ours=1
fi
if [ ! -f "$so" ]; then
    echo "libc_preload: $so does not exist" >&2
    exit 1
fi
so=$(readlink -f "$so")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/bin
out=$tmp/out
mkdir -p "$bin" "$out"

echo "== building the test programs (cc -O2 -pthread)"
cflags=(-O2 -pthread -Wall -Wextra -Werror)
cc "${cflags[@]}" -o "$bin/preload_check" "$src/preload_check.c" -ldl
cc "${cflags[@]}" -o "$bin/threads" "$src/threads.c"
cc "${cflags[@]}" -fPIC -shared -o "$bin/libbefore_main_lib.so" "$src/before_main_lib.c"
cc "${cflags[@]}" -o "$bin/before_main" "$src/before_main.c" \
    -L"$bin" -lbefore_main_lib -Wl,-rpath,"$bin"
cc "${cflags[@]}" -fPIC -shared -o "$bin/libtls_module.so" "$src/tls_module.c"
cc "${cflags[@]}" -o "$bin/tls_destructors" "$src/tls_destructors.c" -ldl
cc "${cflags[@]}" -o "$bin/fork_threads" "$src/fork_threads.c"
g++ "${cflags[@]}" -std=c++17 -o "$bin/cxx_new" "$src/cxx_new.cc"
cc "${cflags[@]}" -o "$bin/aligned_api" "$src/aligned_api.c" -ldl

# Inputs shared by both runs, generated once (with glibc's malloc).
# 500 000 pseudo-random numbers, some negative, some with decimals.
awk 'BEGIN {
    x = 1
    for (i = 0; i < 500000; i++) {
        x = (x * 69069 + 1) % 4294967296
        v = x % 10000000
        if (x % 7 == 0) v = -v
        if (x % 5 == 0) printf "%d.%02d\n", v, x % 100
        else print v
    }
}' >"$tmp/numbers.txt"
# About 600 000 words of text: a Zipf-like mix of common words and
# generated ones, so the counting table holds tens of thousands of keys.
awk 'BEGIN {
    split("the of and to in is was that for it with as his on be at by", common, " ")
    x = 7
    for (line = 0; line < 60000; line++) {
        s = ""
        for (w = 0; w < 10; w++) {
            x = (x * 69069 + 1) % 4294967296
            if (x % 3 == 0) word = common[1 + int(x / 3) % 18]
            else word = sprintf("w%x", int(x / 7) % (1000 + line))
            if (x % 11 == 0) word = toupper(word) ","
            s = s (w ? " " : "") word
        }
        print s
    }
}' >"$tmp/words.txt"

# ---------------------------------------------------------------- checks

passed=0
failed=0
results=()

# show_diff GLIBC_FILE PRELOAD_FILE WHAT: the first differing lines.
show_diff() {
    if cmp -s "$1" "$2"; then return 0; fi
    echo "    $3 differs (< glibc, > preload):"
    diff "$1" "$2" | head -20 | sed 's/^/      /' || true
}

# compare NAME STDERR CMD...: runs CMD with glibc's malloc and with
# LD_PRELOAD=$so, each under timeout 120, in $tmp/run-glibc and
# $tmp/run-preload (made here), and requires the same exit status and
# byte-identical stdout, and the same stderr when STDERR is "stderr".
# "@RUN@" in CMD's arguments is replaced by the run's name (glibc or
# preload), for commands that need a place of their own.
compare() {
    local name=$1 check_err=$2 t0 run status
    shift 2
    t0=$(date +%s)
    declare -A code
    for run in glibc preload; do
        local args=("${@//@RUN@/$run}")
        mkdir -p "$tmp/run-$run"
        status=0
        if [ "$run" = glibc ]; then
            (cd "$tmp/run-$run" && timeout 120 "${args[@]}") \
                >"$out/$name.$run.out" 2>"$out/$name.$run.err" </dev/null || status=$?
        else
            (cd "$tmp/run-$run" && timeout 120 env LD_PRELOAD="$so" "${args[@]}") \
                >"$out/$name.$run.out" 2>"$out/$name.$run.err" </dev/null || status=$?
        fi
        code[$run]=$status
    done
    local ok=1 why=()
    if [ "${code[glibc]}" != "${code[preload]}" ]; then
        ok=0
        why+=("exit status ${code[glibc]} with glibc, ${code[preload]} preloaded")
    fi
    for run in glibc preload; do
        if [ "${code[$run]}" = 124 ]; then
            why+=("timed out after 120 s with $run: a hang? (run it by hand, then gdb -p PID -batch -ex 'thread apply all bt')")
        elif [ "${code[$run]}" -gt 128 ]; then
            why+=("killed by SIG$(kill -l $((code[$run] - 128)) 2>/dev/null || echo "NAL $((code[$run] - 128))") with $run")
        fi
    done
    cmp -s "$out/$name.glibc.out" "$out/$name.preload.out" || { ok=0; why+=("stdout differs"); }
    if [ "$check_err" = stderr ] && ! cmp -s "$out/$name.glibc.err" "$out/$name.preload.err"; then
        ok=0
        why+=("stderr differs")
    fi
    # A program that fails the same way under both is no pass either.
    if [ "${code[glibc]}" != 0 ]; then
        ok=0
        why+=("exit status ${code[glibc]} even with glibc")
    fi
    local lines sum
    lines=$(wc -l <"$out/$name.preload.out")
    sum=$(sha256sum <"$out/$name.preload.out" | cut -c1-16)
    if [ "$ok" = 1 ]; then
        printf '  ok      %-16s %8s lines, sha256 %s, %s s\n' "$name" "$lines" "$sum" "$(($(date +%s) - t0))"
        passed=$((passed + 1))
        results+=("ok      $name")
    else
        printf '  FAILED  %-16s %s\n' "$name" "$(printf '%s; ' "${why[@]}" | sed 's/; $//')"
        echo "    command: $*"
        show_diff "$out/$name.glibc.out" "$out/$name.preload.out" stdout
        if [ "$check_err" = stderr ] || [ "${code[preload]}" != 0 ]; then
            show_diff "$out/$name.glibc.err" "$out/$name.preload.err" stderr
        fi
        failed=$((failed + 1))
        results+=("FAILED  $name")
    fi
}

# The preload takes effect: every entry point resolves to the library.
echo "== the preloaded library defines the entry points"
LD_PRELOAD="$so" "$bin/preload_check" >"$out/preload_check.txt" 2>&1 || true
missing=$(awk -v so="$so" '{ f = $2; cmd = "readlink -f \"" f "\""; cmd | getline f; close(cmd); if (f != so) print $1 " (" $2 ")" }' \
    "$out/preload_check.txt")
core_missing=$(grep -E '^(malloc|free|calloc|realloc) ' <<<"$missing" || true)
if [ -n "$core_missing" ] || { [ "$ours" = 1 ] && [ -n "$missing" ]; }; then
    echo "  FAILED  preload          not defined by $so:"
    while read -r line; do echo "      $line"; done <<<"$missing"
    sed 's/^/      /' "$out/preload_check.txt" | head -20
    if [ -n "$core_missing" ]; then
        # The programs would run on glibc's malloc: nothing left to test.
        echo "FAIL: 0 passed, 1 failed (the preload does not take effect)"
        exit 1
    fi
    failed=$((failed + 1))
    results+=("FAILED  preload")
else
    total=$(wc -l <"$out/preload_check.txt")
    n_missing=$(grep -c . <<<"$missing" || true)
    echo "  ok      preload          $((total - n_missing)) of $total entry points come from $so"
    if [ -n "$missing" ]; then
        echo "          (not from it, allowed for a DLMALLOC_LIBC_SO: $(awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $0 }' <<<"$missing"))"
    fi
    passed=$((passed + 1))
    results+=("ok      preload")
fi

echo "== real programs"
# a. Python with every allocation through malloc (PYTHONMALLOC=malloc).
compare python3 stderr env PYTHONHASHSEED=0 PYTHONMALLOC=malloc PYTHONDONTWRITEBYTECODE=1 \
    python3 "$src/python_work.py"
# b. sort: numeric, in memory with two threads, and with a small buffer
#    (temporary files merged).
compare sort-n stderr env LC_ALL=C sort -n --parallel=2 -S 64M "$tmp/numbers.txt"
compare sort-merge stderr env LC_ALL=C sort -g -r -S 1M -T "$tmp/run-@RUN@" "$tmp/numbers.txt"
# c. The compilers: C and template-heavy C++ to assembly.
compare gcc stderr gcc -S -O2 -o - "$src/threads.c"
compare g++ stderr g++ -S -O2 -std=c++17 -o - "$src/cxx_new.cc"
# d. awk: word frequencies in an associative array (the table's order of
#    traversal is awk's own, so the result is sorted, also under preload).
# shellcheck disable=SC2016 # awk's $i, not the shell's
wordfreq='{ for (i = 1; i <= NF; i++) { w = tolower($i); gsub(/[^a-z0-9]/, "", w); n[w]++; len[w] = length(w) } }
    END { for (w in n) print n[w], len[w], w }'
# shellcheck disable=SC2016 # expanded by sh -c
compare awk stderr sh -c 'LC_ALL=C awk "$1" "$2" | LC_ALL=C sort -k1,1nr -k3,3' sh "$wordfreq" "$tmp/words.txt"
# e. git: commits, gc, fsck, log, diff, blame, archive in a scratch repo.
compare git stderr bash "$src/git_work.sh" "$tmp/run-@RUN@/git"

echo "== test programs (testing/libc-preload)"
# f. threads allocating and passing blocks to each other.
compare threads stderr "$bin/threads"
# g. allocation before main and after it.
compare before_main stderr "$bin/before_main"
# h. thread-exit destructors that allocate and free.
compare tls_destructors stderr "$bin/tls_destructors" "$bin/libtls_module.so"
# i. fork while four threads allocate.
compare fork_threads stderr "$bin/fork_threads"
# j. C++ new/delete and containers.
compare cxx_new stderr "$bin/cxx_new"
# k. the API's edges; its stderr lists entry points it skipped, which
#    differ between libraries, so only stdout ("ok") is compared.
compare aligned_api stdout-only "$bin/aligned_api"

echo
echo "== libc_preload summary ($(($(date +%s) - start)) s, $so)"
printf '  %s\n' "${results[@]}"
if [ "$failed" -gt 0 ]; then
    echo "FAIL: $passed passed, $failed failed"
    exit 1
fi
echo "PASS: $passed passed, $failed failed"
