//! The native benchmark's single-threaded rows on Windows, or under Wine:
//! ours (`DLMalloc` over dlmalloc-platform-windows with its default
//! features: the thread cache and arenas) next to the Windows process heap through
//! `HeapAlloc` ([`heap::ProcessHeap`]) and Rust's `System` (the same heap
//! behind std's wrapper), in one process run.
//!
//! The workloads are the native harness's own files (`bench/harness/src`:
//! `workloads.rs` with `table.rs`, `threaded.rs`, `rng.rs` and
//! `stamp.rs`), compiled here as they are: they need only `std`, so the
//! rows are the native benchmark's, with its parameters, seeds, deadline
//! and block stamps, rather than a copy that could drift from them.
//!
//! Per workload: one verification round through a [`tally::Tally`] (the
//! warm-up; its checksums must be equal across allocators), then the timed
//! rounds, each starting with a different allocator so that drift of a
//! shared machine spreads over all; a cell is the median ns per step.
//! Before the workloads, every allocator is checked on alignments from 1
//! to 4096 bytes.
//!
//! Usage: `dlmalloc-windows-bench [--quick] [--rounds N] [--only NAME]`
//! (`--only`: just the workloads whose name contains NAME, for a quick
//! look at one row). Prints the Markdown table on stdout and progress on
//! stderr; exits 1 when checksums differ, and a block that fails its check
//! panics.

use core::alloc::{GlobalAlloc, Layout};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dlmalloc_platform_windows as _; // links the platform's hooks

mod heap;
mod host;
mod report;
mod tally;

// The native harness's files. Some of their items serve only the native
// runner (instruction counts, footprint probes): not dead code there.
#[path = "../../../bench/harness/src/rng.rs"]
mod rng;
#[path = "../../../bench/harness/src/stamp.rs"]
mod stamp;
#[allow(dead_code)]
#[path = "../../../bench/harness/src/table.rs"]
mod table;
#[path = "../../../bench/harness/src/threaded.rs"]
mod threaded;
#[allow(dead_code)]
#[path = "../../../bench/harness/src/workloads.rs"]
mod workloads;

use workloads::{Scale, Workload};

/// An allocator under test.
pub struct Contender<'a> {
    /// Its column name.
    pub name: &'static str,
    /// The allocator.
    pub alloc: &'a (dyn GlobalAlloc + Sync),
}

/// What one allocator did on one workload.
#[derive(Default)]
pub struct Cell {
    /// Nanoseconds per step of the timed rounds kept.
    pub ns: Vec<f64>,
    /// The steps made, when a timed round stopped at its deadline (then
    /// that round is the only one kept, as in the native runner).
    pub capped: Option<u64>,
    /// Whether freeing the blocks ran out of time and the rest were
    /// leaked into the allocator.
    pub leaked: bool,
    /// The verification round's checksum; none when that round stopped at
    /// its deadline (it then made fewer requests than the others).
    pub checksum: Option<u64>,
}

/// One workload's measurements, a cell per contender.
pub struct Row {
    /// The native benchmark's name of the workload.
    pub name: String,
    /// What one step is.
    pub step: &'static str,
    /// The contenders' cells, in contender order.
    pub cells: Vec<Cell>,
}

impl Row {
    /// Whether every checksum made is the same.
    pub fn checksums_agree(&self) -> bool {
        let mut sums = self.cells.iter().filter_map(|c| c.checksum);
        sums.next().is_none_or(|first| sums.all(|s| s == first))
    }
}

/// Whether a workload runs on one thread. The threaded rows are left
/// out: under Wine the host's scheduling of Wine's threads would weigh on
/// them as much as the heaps.
fn single_threaded(workload: &Workload) -> bool {
    !matches!(workload, Workload::Threads(_) | Workload::ProducerConsumer)
}

/// Checks that `contender` serves alignments from 1 to 4096 bytes through
/// alloc, a growing and a shrinking realloc, and dealloc, keeping the
/// contents (the process heap's wrapper has a path of its own above 16).
///
/// # Panics
///
/// On a null, misaligned or overwritten block.
fn check_alignment(contender: &Contender<'_>) {
    let what = format!("{} / alignment check", contender.name);
    let mut id = 0;
    for align in [1, 8, 16, 32, 64, 256, 4096] {
        for size in [16, 24, 100, 3000, 70_000] {
            id += 1;
            let tag = stamp::tag(id);
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: a non-zero size.
            let mut ptr = unsafe { contender.alloc.alloc(layout) };
            stamp::check_fresh(ptr, layout, &what);
            // SAFETY: a fresh block of `size` (>= 16) bytes.
            unsafe { stamp::write(ptr, size, tag) };
            let mut old = layout;
            for new_size in [size * 3, 16] {
                // SAFETY: a live block of this allocator with `old`, and a
                // non-zero size that forms a valid layout with `align`.
                ptr = unsafe { contender.alloc.realloc(ptr, old, new_size) };
                let new = Layout::from_size_align(new_size, align).unwrap();
                stamp::check_fresh(ptr, new, &what);
                // SAFETY: the block holds `new_size` (>= 16) bytes; it kept
                // the old contents that fit: both stamps when it grew.
                unsafe {
                    if new_size >= old.size() {
                        stamp::check(ptr, old.size(), tag, &what);
                    } else {
                        stamp::check_head(ptr, tag, &what);
                    }
                    stamp::write(ptr, new_size, tag);
                }
                old = new;
            }
            // SAFETY: a live block of this allocator with `old`.
            unsafe { contender.alloc.dealloc(ptr, old) };
        }
    }
}

/// How long one timed run of a workload may take before it stops and its
/// cell keeps that one round: the native runner's budgets.
fn budget(scale: Scale) -> Duration {
    match scale {
        Scale::Full => Duration::from_millis(1000),
        Scale::Quick => VERIFY_BUDGET,
    }
}

/// How long a verification run may take: long enough for every allocator
/// here to make all its steps (Wine's heap needs some 6 s for the 8 MiB
/// doubling on a busy machine), so that every checksum is compared. The
/// native runner's budget for a quick run.
const VERIFY_BUDGET: Duration = Duration::from_secs(20);

/// Runs `workload` on every contender: the verification round, then
/// `rounds` timed rounds.
fn measure(workload: &Workload, contenders: &[Contender<'_>], scale: Scale, rounds: usize) -> Row {
    let mut cells: Vec<Cell> = contenders.iter().map(|_| Cell::default()).collect();
    for round in 0..=rounds {
        for k in 0..contenders.len() {
            let index = (k + round) % contenders.len();
            let (contender, cell) = (&contenders[index], &mut cells[index]);
            if cell.capped.is_some() {
                continue;
            }
            if round == 0 {
                let tally = tally::Tally::new(contender.alloc);
                let deadline = Instant::now() + VERIFY_BUDGET;
                let outcome = workload.run(&tally, scale, deadline, contender.name);
                cell.checksum = (!outcome.capped).then(|| tally.sum());
                continue;
            }
            let start = Instant::now();
            let outcome = workload.run(
                contender.alloc,
                scale,
                start + budget(scale),
                contender.name,
            );
            let elapsed = start.elapsed();
            assert!(
                outcome.steps > 0,
                "{} / {}: no step done",
                contender.name,
                workload.name()
            );
            let ns = elapsed.as_nanos() as f64 / outcome.steps as f64;
            cell.leaked |= outcome.leaked;
            if outcome.capped {
                cell.ns = vec![ns];
                cell.capped = Some(outcome.steps);
            } else {
                cell.ns.push(ns);
            }
        }
    }
    Row {
        name: workload.name(),
        step: workload.step(),
        cells,
    }
}

/// What the command line asks.
struct Options {
    /// Full or quick counts.
    scale: Scale,
    /// Timed rounds per workload.
    rounds: usize,
    /// Only the workloads whose name contains this.
    only: Option<String>,
}

/// Reads the command line (see the crate's documentation).
fn options() -> Result<Options, String> {
    let (mut scale, mut rounds, mut only) = (Scale::Full, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => scale = Scale::Quick,
            "--rounds" => {
                let n = args.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0);
                rounds = Some(n.ok_or("--rounds takes a number above 0")?);
            }
            "--only" => only = Some(args.next().ok_or("--only takes a name")?),
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    let rounds = rounds.unwrap_or(if scale == Scale::Quick { 1 } else { 5 });
    Ok(Options {
        scale,
        rounds,
        only,
    })
}

fn main() -> ExitCode {
    let Options {
        scale,
        rounds,
        only,
    } = match options() {
        Ok(options) => options,
        Err(problem) => {
            eprintln!("dlmalloc-windows-bench: {problem}");
            eprintln!("usage: dlmalloc-windows-bench [--quick] [--rounds N] [--only NAME]");
            return ExitCode::from(2);
        }
    };
    let heap = heap::ProcessHeap::new();
    let contenders = [
        Contender {
            name: "ours",
            alloc: &dlmalloc::DLMalloc,
        },
        Contender {
            name: "HeapAlloc",
            alloc: &heap,
        },
        Contender {
            name: "System",
            alloc: &std::alloc::System,
        },
    ];
    contenders.iter().for_each(check_alignment);
    let host = format!("{}\n\n{}", host::describe(), host::lock_costs());
    let started = Instant::now();
    let mut rows = Vec::new();
    let chosen = |w: &&Workload| {
        single_threaded(w)
            && only
                .as_ref()
                .is_none_or(|only| w.name().contains(only.as_str()))
    };
    for workload in workloads::ALL.iter().filter(chosen) {
        let row = measure(workload, &contenders, scale, rounds);
        let sums: Vec<String> = row
            .cells
            .iter()
            .map(|c| report::checksum(c.checksum))
            .collect();
        eprintln!(
            "[{:>6.1}s] {}: checksums {}",
            started.elapsed().as_secs_f64(),
            row.name,
            sums.join(" ")
        );
        rows.push(row);
    }
    let names: Vec<&str> = contenders.iter().map(|c| c.name).collect();
    print!("{}", report::markdown(&host, scale, rounds, &names, &rows));
    let differing: Vec<&str> = rows
        .iter()
        .filter(|r| !r.checksums_agree())
        .map(|r| &*r.name)
        .collect();
    if !differing.is_empty() {
        eprintln!(
            "dlmalloc-windows-bench: checksums differ in {}",
            differing.join(", ")
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
