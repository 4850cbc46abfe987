#!/usr/bin/env bash
# Runs the C benchmark programs of bench/c-programs/ (plain C, built with
# cc -O2 -pthread) under four malloc implementations: glibc's (no preload),
# ours (dlmalloc-libc's libdlmalloc_libc.so through LD_PRELOAD), mimalloc
# and jemalloc (Debian's libmimalloc2.0 and libjemalloc2, also preloaded),
# and writes bench/results/c-programs.md.
#
#   scripts/bench_c.sh              full run: 5 rounds, about 2-3 minutes on 2 cores
#   scripts/bench_c.sh --rounds N   full run with N rounds
#   scripts/bench_c.sh --quick      every program once with small sizes; checks
#                                   that each run succeeded and that the check
#                                   values agree, judges no time; writes to
#                                   bench/target/quick-results/c-programs.md
#
# Every program x thread count (1, and 2 for the threaded ones: the machine
# has 2 cores) x allocator runs once per round, the allocator that goes
# first rotating from round to round, so a drift in the machine's speed
# touches each alike. A cell is the median of the rounds. Time: the wall
# time of the work that the program prints itself (CLOCK_MONOTONIC, set-up
# and exit excluded). Peak RSS: the maximum resident set size of the process
# as /usr/bin/time -f %M reports it (the kernel's ru_maxrss, KiB).
#
# Installs what is missing (libjemalloc2, libmimalloc2.0, time; apt-get
# update only then) and builds our library with
# `cargo build --release -p dlmalloc-libc`, unless DLMALLOC_LIBC_SO names
# the .so to use. Times are never asserted. The script fails when a build
# fails, when a program exits non-zero (it checks the pattern of every
# block before freeing it, and that no message was lost), times out, or
# prints a check value other than glibc's run of the same program and
# arguments. CI runs the quick mode, which judges no time: timings on a
# shared machine are a measurement, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage() {
    echo "usage: $0 [--quick] [--rounds N]" >&2
    exit 2
}

quick=0
rounds=5
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        --rounds)
            [ $# -ge 2 ] || usage
            rounds=$2
            shift
            ;;
        --rounds=*) rounds=${1#--rounds=} ;;
        *) usage ;;
    esac
    shift
done
case $rounds in '' | *[!0-9]* | 0) usage ;; esac
if [ "$quick" = 1 ]; then
    rounds=1
    out="$root/bench/target/quick-results"
    limit=120
else
    out="$root/bench/results"
    limit=300
fi

# --- what is needed ------------------------------------------------------------
libdir=/usr/lib/x86_64-linux-gnu
jemalloc_so=$libdir/libjemalloc.so.2
mimalloc_so=$libdir/libmimalloc.so.2
missing=()
[ -e "$jemalloc_so" ] || missing+=(libjemalloc2)
[ -e "$mimalloc_so" ] || missing+=(libmimalloc2.0)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "bench_c: installing ${missing[*]}"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "bench_c: missing ${missing[*]}, and cannot install them here" >&2
        exit 1
    fi
fi

if [ -n "${DLMALLOC_LIBC_SO:-}" ]; then
    ours_so=$DLMALLOC_LIBC_SO
else
    cargo build --release -p dlmalloc-libc
    ours_so="${CARGO_TARGET_DIR:-$root/target}/release/libdlmalloc_libc.so"
fi
[ -e "$ours_so" ] || { echo "bench_c: $ours_so does not exist" >&2; exit 1; }
ours_so=$(cd "$(dirname "$ours_so")" && pwd)/$(basename "$ours_so")

bin="$root/bench/target/c-programs"
mkdir -p "$bin" "$out"
for src in bench/c-programs/*.c; do
    name=$(basename "$src" .c)
    cc -O2 -pthread -Wall -Wextra -o "$bin/$name" "$src"
done

if [ "$quick" = 0 ] && { pgrep -x cargo >/dev/null || pgrep -x rustc >/dev/null; }; then
    echo "bench_c: WARNING: cargo or rustc is running; the times will be noisy" >&2
fi

# --- the runs ------------------------------------------------------------------
# program | threads | arguments (full run) | arguments (quick run)
# The thread count is the program's first argument; single has none.
# Full sizes take about 0.3-1.5 s each on glibc.
runs=(
    "single|1|50000 40|5000 4"
    "threads|1|1 1500000 4096|1 20000 512"
    "threads|2|2 1500000 4096|2 20000 512"
    "server|1|1 100 15000 2000|1 5 2000 200"
    "server|2|2 100 15000 2000|2 5 2000 200"
    "prodcons|1|1 1500000 1024|1 20000 256"
    "prodcons|2|2 1500000 1024|2 20000 256"
)
allocs=(glibc dlmalloc mimalloc jemalloc)
so_of() {
    case $1 in
        glibc) echo "" ;;
        dlmalloc) echo "$ours_so" ;;
        mimalloc) echo "$mimalloc_so" ;;
        jemalloc) echo "$jemalloc_so" ;;
    esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
raw="$bin/raw.tsv"
[ "$quick" = 0 ] || raw="$bin/raw-quick.tsv"
printf 'program\tthreads\targs\tallocator\tround\tcheck\ttime_ms\trss_kb\n' >"$raw"
failures=()

# Runs one program under one allocator; appends a row to $raw, or a line to
# $failures; sets $last to the time or FAILED.
last=
run_one() {
    local prog=$1 threads=$2 args=$3 alloc=$4 round=$5
    local so pre=(env -u LD_PRELOAD) rc=0
    so=$(so_of "$alloc")
    [ -z "$so" ] || pre=(env "LD_PRELOAD=$so")
    local -a argv
    read -r -a argv <<<"$args"
    timeout "$limit" /usr/bin/time -f '%M' -o "$tmp/rss" \
        "${pre[@]}" "$bin/$prog" "${argv[@]}" >"$tmp/out" 2>"$tmp/err" || rc=$?
    local check time_ms rss
    check=$(sed -n 's/^check \([0-9a-f]*\)$/\1/p' "$tmp/out")
    time_ms=$(sed -n 's/^time_ms \([0-9.]*\)$/\1/p' "$tmp/out")
    rss=$(tail -n 1 "$tmp/rss" 2>/dev/null || true)
    local what="$prog $args ($alloc${so:+, LD_PRELOAD=$so})"
    if [ "$rc" = 124 ]; then
        failures+=("$what: timed out after $limit s")
    elif [ "$rc" != 0 ]; then
        failures+=("$what: exit status $rc: $(tail -n 3 "$tmp/err" | tr '\n' ' ')")
    elif [ -z "$check" ] || [ -z "$time_ms" ] || ! [[ $rss =~ ^[0-9]+$ ]]; then
        failures+=("$what: no check, time_ms or RSS in its output: $(head -c 300 "$tmp/out" | tr '\n' ' ')")
    else
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
            "$prog" "$threads" "$args" "$alloc" "$round" "$check" "$time_ms" "$rss" >>"$raw"
        last="$time_ms ms"
        return
    fi
    last=FAILED
    echo "bench_c: FAILED: ${failures[-1]}" >&2
}

start=$(date +%s)
for ((r = 0; r < rounds; r++)); do
    echo "== round $((r + 1))/$rounds"
    for run in "${runs[@]}"; do
        IFS='|' read -r prog threads full_args quick_args <<<"$run"
        args=$full_args
        [ "$quick" = 0 ] || args=$quick_args
        line="  $prog threads=$threads:"
        for ((i = 0; i < ${#allocs[@]}; i++)); do
            alloc=${allocs[(r + i) % ${#allocs[@]}]}
            run_one "$prog" "$threads" "$args" "$alloc" "$r"
            line+=" $alloc $last,"
        done
        echo "${line%,}"
    done
done
echo "bench_c: ran in $(($(date +%s) - start)) s"

# --- the report ----------------------------------------------------------------
# Checks every check value against glibc's, then writes the tables.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null | head -n 1)" ]; then commit+=" (with uncommitted changes)"; fi
versions=$(dpkg-query -W -f '${Package} ${Version}, ' libc6 libjemalloc2 libmimalloc2.0 2>/dev/null || true)
failed_list="$tmp/failures"
printf '%s\n' "${failures[@]+"${failures[@]}"}" >"$failed_list"

RAW="$raw" OUT="$out/c-programs.md" QUICK="$quick" ROUNDS="$rounds" COMMIT="$commit" \
    OURS_SO="$ours_so" VERSIONS="${versions%, }" CC_VERSION="$(cc --version | head -n 1)" \
    FAILURES="$failed_list" python3 - <<'EOF'
import csv, os, statistics, sys, time

allocs = ["glibc", "dlmalloc", "mimalloc", "jemalloc"]
rows = list(csv.DictReader(open(os.environ["RAW"]), delimiter="\t"))
failures = [l for l in open(os.environ["FAILURES"]).read().splitlines() if l]

# key: (program, threads, args) in the order of first appearance
keys = []
cells = {}
for r in rows:
    k = (r["program"], r["threads"], r["args"])
    if k not in cells:
        keys.append(k)
        cells[k] = {a: [] for a in allocs}
    cells[k][r["allocator"]].append(r)

checks = {}
for k in keys:
    ref = {r["check"] for r in cells[k]["glibc"]}
    if len(ref) != 1:
        failures.append(f"{k[0]} {k[2]}: glibc's runs printed different check values {sorted(ref)}")
        continue
    ref = ref.pop()
    checks[k] = ref
    for a in allocs:
        for r in cells[k][a]:
            if r["check"] != ref:
                failures.append(f"{k[0]} {k[2]} ({a}, round {r['round']}): check {r['check']}, glibc's is {ref}")

if failures:
    print("bench_c: FAILED:", file=sys.stderr)
    for f in failures:
        print("  " + f, file=sys.stderr)
    sys.exit(1)

def median(xs):
    return statistics.median(xs) if xs else float("nan")

def time_cell(rs):
    t = [float(r["time_ms"]) for r in rs]
    m = median(t)
    spread = (max(t) - min(t)) / m if m > 0 else 0.0
    return m, f"{m:.0f} ±{spread * 100:.0f}%" if m >= 10 else f"{m:.1f} ±{spread * 100:.0f}%"

def ratio(a, b):
    return f"{a / b:.2f}" if b > 0 else "-"

machine_cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        machine_cpu = line.split(":", 1)[1].strip()
        break
load = " ".join(open("/proc/loadavg").read().split()[:3])
quick = os.environ["QUICK"] == "1"
what = {
    "single": "one thread: string hash table, binary tree and realloc-grown buffers built up and torn down, 8 B to 4 KiB",
    "threads": "each thread replaces random blocks of its own working set (16 B-1 KiB, 1 in 20 up to 64 KiB), 10% reallocs; nothing shared",
    "server": "generations of worker threads; each hands half its live blocks to a thread of the next generation, which frees them",
    "prodcons": "threads = producer/consumer pairs; producers malloc messages (32 B-2 KiB) into a bounded queue, consumers check and free them",
}
arg_names = {
    "single": "ops_per_round rounds",
    "threads": "threads steps_per_thread working_set",
    "server": "threads generations requests_per_thread live_per_thread",
    "prodcons": "pairs messages_per_producer queue_capacity",
}

o = []
o.append("# C programs: allocator benchmark results" + (" (quick run: sizes too small for the times to mean anything)" if quick else ""))
o.append("")
o.append(f"- Machine: {os.cpu_count()} cores (nproc), {machine_cpu}; load average at report time {load}")
o.append(f"- Date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} (UTC)")
o.append(f"- Source: commit {os.environ['COMMIT']} of this repository; programs in `bench/c-programs/`, built with `cc -O2 -pthread` ({os.environ['CC_VERSION']})")
o.append(f"- Allocators: glibc (no preload), dlmalloc = ours (`LD_PRELOAD` of `{os.path.relpath(os.environ['OURS_SO'])}`), mimalloc and jemalloc (`LD_PRELOAD` of Debian's `libmimalloc.so.2`, `libjemalloc.so.2`). Packages: {os.environ['VERSIONS']}")
o.append(f"- Method: `scripts/bench_c.sh{' --quick' if quick else ''}`; a cell is the median of {os.environ['ROUNDS']} round(s); in each round every program runs once per allocator, the first allocator rotating. Time: the wall time of the work, printed by the program itself (CLOCK_MONOTONIC). Peak RSS: the process's maximum resident set size as `/usr/bin/time -f %M` reports it (ru_maxrss).")
o.append("- Every run checks the pattern of every block before it frees it, and its check value equals glibc's run of the same program and arguments.")
o.append("")
o.append("## Programs")
o.append("")
o.append("| program | what | arguments | check |")
o.append("|---|---|---|---|")
seen = set()
for k in keys:
    first = k[0] not in seen
    seen.add(k[0])
    desc = f"{what.get(k[0], '')}; arguments: {arg_names.get(k[0], '')}" if first else "″"
    o.append(f"| {k[0] if first else ''} | {desc} | `{k[2]}` | `{checks[k]}` |")
o.append("")
o.append("## Time (ms, median ± spread = (max−min)/median) and peer/ours")
o.append("")
o.append("Above 1: ours (dlmalloc) is faster.")
o.append("")
o.append("| program | threads | glibc | dlmalloc | mimalloc | jemalloc | glibc/ours | mimalloc/ours | jemalloc/ours |")
o.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for k in keys:
    med = {}
    txt = {}
    for a in allocs:
        med[a], txt[a] = time_cell(cells[k][a])
    ours = med["dlmalloc"]
    o.append(f"| {k[0]} | {k[1]} | " + " | ".join(txt[a] for a in allocs) + " | "
             + " | ".join(ratio(med[a], ours) for a in ["glibc", "mimalloc", "jemalloc"]) + " |")
o.append("")
o.append("## Peak RSS (MiB, median) and ours/glibc")
o.append("")
o.append("Below 1: ours (dlmalloc) uses less memory than glibc.")
o.append("")
o.append("| program | threads | glibc | dlmalloc | mimalloc | jemalloc | ours/glibc |")
o.append("|---|---|---:|---:|---:|---:|---:|")
for k in keys:
    med = {a: median([int(r["rss_kb"]) for r in cells[k][a]]) / 1024 for a in allocs}
    o.append(f"| {k[0]} | {k[1]} | " + " | ".join(f"{med[a]:.1f}" for a in allocs)
             + f" | {ratio(med['dlmalloc'], med['glibc'])} |")
o.append("")
open(os.environ["OUT"], "w").write("\n".join(o))
print("\n".join(o))
runs = sum(len(v) for c in cells.values() for v in c.values())
print(f"bench_c: {runs} runs, every check value equal to glibc's; wrote {os.environ['OUT']}")
EOF
