//! Times a fixed allocation workload on the dlmalloc core and reports the
//! cost of the core's hardening as ratios between builds.
//!
//! `hardening-cost run <variant> [pairs|churn|all] [divisor]` runs each
//! workload three times in this build of the core (with its operation
//! count divided by `divisor`, for slow instruction counters) and prints
//! one tab-separated line per workload: `<variant>\t<workload>\t<ns per
//! operation, fastest of the three>\t<operations over all three>`. Times
//! are the thread's CPU time, not wall time.
//! `hardening-cost report [unit]` reads such lines (from any number of runs
//! and variants) on stdin and prints a markdown table of the median value
//! per operation of each variant (with the smallest and largest run, to
//! show the spread) and its ratio to `default`.
//!
//! scripts/hardening_cost.sh builds the three variants (features none,
//! `footers`, `insecure`) and alternates their runs over several rounds,
//! so a drift of the machine's speed touches every variant alike.
//!
//! Every block carries a pattern derived from its slot and generation,
//! written on allocation and checked before it is freed or after it is
//! resized: a build that hands out overlapping or truncated memory exits
//! with an error instead of scoring.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::BufRead;
use std::process::ExitCode;

use dlmalloc_platform_std as _; // supplies the hooks the core calls

use core::ffi::c_void;
use dlmalloc_sys::{dlfree, dlmalloc, dlrealloc};

/// Allocation/free pairs in the first workload.
const PAIRS: usize = 4_000_000;
/// Live blocks in the churn workload's table.
const TABLE: usize = 10_000;
/// Operations (malloc, free or realloc of a random slot) in the churn.
const CHURN_STEPS: usize = 3_000_000;
/// Operations done before timing, so the heap has its working set mapped.
const WARM_UP_STEPS: usize = 200_000;
/// Times each workload runs in one process; the fastest run is reported,
/// the one the other processes of a shared machine disturbed least.
const REPEATS: usize = 3;

/// The fastest of `REPEATS` results of `workload`.
fn best_of(mut workload: impl FnMut() -> f64) -> f64 {
    (0..REPEATS)
        .map(|_| workload())
        .fold(f64::INFINITY, f64::min)
}

/// Nanoseconds of CPU time this thread has used. CPU time rather than wall
/// time: on a shared machine the wall clock also counts the time other
/// processes hold the CPU.
fn thread_cpu_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; the clock id is a constant
    // every Linux and BSD provides.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// SplitMix64: the same sequence on every run and in every variant.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

/// The word written at both ends of a block with this tag.
fn stamp(tag: u64) -> u64 {
    tag.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5_5A5A_A5A5_5A5A
}

/// Writes the tag's stamp into the first and the last 8 bytes of `p`.
///
/// # Safety
///
/// `p` must be a live block of at least `size >= 16` bytes.
unsafe fn mark(p: *mut u8, size: usize, tag: u64) {
    // SAFETY: both words lie inside the block the caller vouches for.
    unsafe {
        p.cast::<u64>().write_unaligned(stamp(tag));
        p.add(size - 8).cast::<u64>().write_unaligned(stamp(tag));
    }
}

/// Checks the stamp at the start of `p` and, when `size` is given, at its
/// end; exits the process on a mismatch so a broken build cannot score.
///
/// # Safety
///
/// `p` must be a live block of at least 16 bytes (and `size` when given).
unsafe fn verify(p: *const u8, size: Option<usize>, tag: u64, what: &str) {
    // SAFETY: the first word lies inside the block the caller vouches for.
    let head = unsafe { p.cast::<u64>().read_unaligned() };
    // SAFETY: as above, for the last word of `size` bytes.
    let tail = size.map(|s| unsafe { p.add(s - 8).cast::<u64>().read_unaligned() });
    if head != stamp(tag) || tail.is_some_and(|t| t != stamp(tag)) {
        eprintln!("hardening-cost: {what}: block {p:?} lost its contents; this build is broken");
        std::process::exit(2);
    }
}

/// Allocates `size` bytes, exiting the process when the core refuses.
fn alloc(size: usize) -> *mut u8 {
    // SAFETY: dlmalloc accepts any size.
    let p = unsafe { dlmalloc(size) }.cast::<u8>();
    if p.is_null() {
        eprintln!("hardening-cost: dlmalloc({size}) failed");
        std::process::exit(2);
    }
    p
}

/// `pairs` times: allocate 16..=256 bytes, stamp, verify, free. Returns
/// nanoseconds per pair. Never inlined, so an instruction counter can
/// collect exactly this function (`--toggle-collect=*alloc_free_pairs*`).
#[inline(never)]
fn alloc_free_pairs(pairs: usize) -> f64 {
    let mut rng = Rng(1);
    let start = thread_cpu_ns();
    for i in 0..pairs {
        let size = rng.range(16, 256);
        let p = alloc(size);
        let tag = i as u64;
        // SAFETY: p is a live block of `size >= 16` bytes until the free.
        unsafe {
            mark(p, size, tag);
            verify(black_box(p), Some(size), tag, "alloc/free pair");
            dlfree(p.cast::<c_void>());
        }
    }
    (thread_cpu_ns() - start) as f64 / pairs as f64
}

/// One slot of the churn table: a live block (or null), its size and tag.
#[derive(Clone, Copy)]
struct Slot {
    ptr: *mut u8,
    size: usize,
    tag: u64,
}

/// Random churn over a table of `TABLE` live blocks: each step picks a slot
/// and allocates into it when empty, else frees it or reallocates it to a
/// new size (16..=512 bytes, one time in a hundred up to 8 KiB).
struct Churn {
    rng: Rng,
    table: Vec<Slot>,
    next_tag: u64,
}

impl Churn {
    fn new() -> Self {
        let empty = Slot {
            ptr: core::ptr::null_mut(),
            size: 0,
            tag: 0,
        };
        Churn {
            rng: Rng(2),
            table: vec![empty; TABLE],
            next_tag: 0,
        }
    }

    fn step(&mut self) {
        let index = self.rng.range(0, TABLE - 1);
        let size = if self.rng.range(0, 99) == 0 {
            self.rng.range(513, 8 << 10)
        } else {
            self.rng.range(16, 512)
        };
        let free_it = self.rng.range(0, 2) == 0;
        self.next_tag += 1;
        let tag = self.next_tag;
        let slot = &mut self.table[index];
        if slot.ptr.is_null() {
            let p = alloc(size);
            // SAFETY: p is a live block of `size >= 16` bytes.
            unsafe { mark(p, size, tag) };
            *slot = Slot { ptr: p, size, tag };
        } else if free_it {
            // SAFETY: the slot holds a live block of `slot.size` bytes.
            unsafe {
                verify(slot.ptr, Some(slot.size), slot.tag, "free in churn");
                dlfree(slot.ptr.cast::<c_void>());
            }
            slot.ptr = core::ptr::null_mut();
        } else {
            // SAFETY: the slot holds a live block; realloc keeps its first
            // min(old, new) bytes, so the head stamp survives.
            let p = unsafe { dlrealloc(slot.ptr.cast::<c_void>(), size) }.cast::<u8>();
            if p.is_null() {
                eprintln!("hardening-cost: dlrealloc to {size} failed");
                std::process::exit(2);
            }
            // SAFETY: p is a live block of `size >= 16` bytes.
            unsafe {
                verify(p, None, slot.tag, "realloc in churn");
                mark(p, size, tag);
            }
            *slot = Slot { ptr: p, size, tag };
        }
    }

    /// `steps` steps; returns nanoseconds per step. Never inlined, so an
    /// instruction counter can collect exactly this function.
    #[inline(never)]
    fn timed_churn(&mut self, steps: usize) -> f64 {
        let start = thread_cpu_ns();
        for _ in 0..steps {
            self.step();
        }
        (thread_cpu_ns() - start) as f64 / steps as f64
    }

    /// Frees every live block, checking each one first.
    fn finish(self) {
        for slot in self.table.iter().filter(|s| !s.ptr.is_null()) {
            // SAFETY: the slot holds a live block of `slot.size` bytes.
            unsafe {
                verify(slot.ptr, Some(slot.size), slot.tag, "final free");
                dlfree(slot.ptr.cast::<c_void>());
            }
        }
    }
}

/// Warms the churn table up (untimed), then times `steps` steps.
fn churn(steps: usize) -> f64 {
    let mut churn = Churn::new();
    for _ in 0..WARM_UP_STEPS {
        churn.step();
    }
    let per_step = churn.timed_churn(steps);
    churn.finish();
    per_step
}

/// Median of a non-empty list.
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Reads `variant\tworkload\tvalue[\toperations]` lines and prints the
/// markdown table of medians, the value being `unit` per operation.
fn report(unit: &str) -> ExitCode {
    let mut samples: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("read stdin");
        let fields: Vec<&str> = line.split('\t').collect();
        let [variant, workload, ns, ..] = fields[..] else {
            eprintln!("hardening-cost report: malformed line {line:?}");
            return ExitCode::FAILURE;
        };
        let Ok(ns) = ns.parse::<f64>() else {
            eprintln!("hardening-cost report: malformed time in {line:?}");
            return ExitCode::FAILURE;
        };
        samples
            .entry((workload.to_string(), variant.to_string()))
            .or_default()
            .push(ns);
    }
    let workloads: Vec<String> = {
        let mut w: Vec<String> = samples.keys().map(|(w, _)| w.clone()).collect();
        w.dedup();
        w
    };
    println!("| workload | variant | runs | median {unit}/op | min | max | ratio to default |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for workload in &workloads {
        let Some(base) = samples.get(&(workload.clone(), "default".to_string())) else {
            eprintln!("hardening-cost report: no default runs of {workload}");
            return ExitCode::FAILURE;
        };
        let base = median(base.clone());
        for variant in ["default", "footers", "insecure"] {
            if let Some(xs) = samples.get(&(workload.clone(), variant.to_string())) {
                let m = median(xs.clone());
                let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
                let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                println!(
                    "| {workload} | {variant} | {} | {m:.1} | {min:.1} | {max:.1} | {:.3} |",
                    xs.len(),
                    m / base
                );
            }
        }
    }
    ExitCode::SUCCESS
}

/// Workload names as they appear in the report.
const PAIRS_NAME: &str = "alloc/free pairs 16-256 B";
const CHURN_NAME: &str = "churn over 10k live blocks with realloc";

fn main() -> ExitCode {
    let usage = "usage: hardening-cost run <variant> [pairs|churn|all] [divisor]\n       \
                 hardening-cost report [unit] < samples";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args[..] {
        ["run", variant, ref rest @ ..] if rest.len() <= 2 => {
            let which = rest.first().copied().unwrap_or("all");
            let Some(divisor) = rest.get(1).map_or(Some(1), |d| d.parse::<usize>().ok()) else {
                eprintln!("{usage}");
                return ExitCode::FAILURE;
            };
            let divisor = divisor.max(1);
            if !matches!(which, "pairs" | "churn" | "all") {
                eprintln!("{usage}");
                return ExitCode::FAILURE;
            }
            // Each line: variant, workload, time per operation of the
            // fastest repeat, operations run over all repeats (what an
            // instruction counter collecting the workload's function saw).
            if which != "churn" {
                let ops = PAIRS / divisor;
                let best = best_of(|| alloc_free_pairs(ops));
                println!("{variant}\t{PAIRS_NAME}\t{best:.2}\t{}", ops * REPEATS);
            }
            if which != "pairs" {
                let ops = CHURN_STEPS / divisor;
                let best = best_of(|| churn(ops));
                println!("{variant}\t{CHURN_NAME}\t{best:.2}\t{}", ops * REPEATS);
            }
            ExitCode::SUCCESS
        }
        ["report"] => report("ns"),
        ["report", unit] => report(unit),
        _ => {
            eprintln!("{usage}");
            ExitCode::FAILURE
        }
    }
}
