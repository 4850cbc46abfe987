//! The command line of a bench binary: the timed rounds, the arena fill
//! and the footprint children, all written as raw CSV rows that
//! [`crate::report`] turns into the tables and the plot.
//!
//! ```text
//! BIN run [--quick] [--rounds N] [--only NAME] --out RAW.csv
//!                                                measure everything (or only
//!                                                the timed workloads whose
//!                                                name contains NAME)
//! BIN rss ALLOCATOR WORKLOAD [--quick]           one footprint child
//! BIN once ALLOCATOR WORKLOAD STEPS               one untimed run of a pair
//!                                                or churn workload (for
//!                                                instruction counts)
//! BIN arena                                      only the arena fills: print
//!                                                their table
//! BIN report [--quick] --out DIR RAW.csv...      write results.{md,csv,svg}
//! ```

use core::alloc::GlobalAlloc;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::arena::{self, ArenaContender};
use crate::report;
use crate::rss;
use crate::workloads::{self, Scale};

/// An allocator under test, shared by every workload of the process.
pub struct Contender {
    /// Its column name.
    pub name: &'static str,
    /// The allocator.
    pub alloc: &'static (dyn GlobalAlloc + Sync),
}

/// The raw measurement rows of one binary.
struct Rows {
    out: String,
    source: String,
}

impl Rows {
    /// Appends `source,kind,workload,allocator,round,value,flag`, where the
    /// flag is `ok`, `capped` (stopped at its deadline) or `leaked`
    /// (stopped, and too slow to free its blocks).
    fn push(
        &mut self,
        kind: &str,
        workload: &str,
        allocator: &str,
        round: usize,
        value: f64,
        flag: &str,
    ) {
        let source = &self.source;
        writeln!(
            self.out,
            "{source},{kind},{workload},{allocator},{round},{value},{flag}"
        )
        .unwrap();
    }
}

/// The value following `flag` on the command line.
fn flag_value(args: &[String], flag: &str) -> Option<String> {
    args.iter().position(|a| a == flag).map(|i| {
        args.get(i + 1)
            .cloned()
            .unwrap_or_else(|| panic!("{flag} needs a value"))
    })
}

/// Runs the command line of a bench binary named `source` (it appears in
/// every raw row) over `contenders` (timed and footprint) and `arenas`
/// (fixed-region utilisation).
pub fn main(source: &str, contenders: &[Contender], arenas: &[ArenaContender]) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale = if args.iter().any(|a| a == "--quick") {
        Scale::Quick
    } else {
        Scale::Full
    };
    match args.first().map(String::as_str) {
        Some("run") => {
            let out = flag_value(&args, "--out").expect("run needs --out RAW.csv");
            let rounds = match flag_value(&args, "--rounds") {
                Some(n) => n.parse().expect("--rounds takes a number"),
                None if scale == Scale::Quick => 1,
                None => 5,
            };
            let only = flag_value(&args, "--only");
            let raw = run(source, contenders, arenas, scale, rounds, only.as_deref());
            std::fs::write(&out, raw).unwrap_or_else(|e| panic!("cannot write {out}: {e}"));
        }
        Some("rss") => {
            let allocator = args.get(1).expect("rss needs an allocator");
            let workload = args.get(2).expect("rss needs a workload");
            let contender = contenders
                .iter()
                .find(|c| c.name == allocator)
                .unwrap_or_else(|| panic!("no allocator {allocator}"));
            let workload = rss::ALL
                .iter()
                .find(|w| w.name == workload)
                .unwrap_or_else(|| panic!("no footprint workload {workload}"));
            rss::child(contender.alloc, contender.name, workload, scale);
        }
        Some("once") => {
            let [_, allocator, workload, steps] = &args[..] else {
                panic!("once needs ALLOCATOR WORKLOAD STEPS");
            };
            let contender = contenders
                .iter()
                .find(|c| c.name == allocator)
                .unwrap_or_else(|| panic!("no allocator {allocator}"));
            let steps: usize = steps.parse().expect("STEPS is a number");
            let outcome = workloads::ALL
                .iter()
                .find(|w| w.name() == *workload)
                .and_then(|w| w.run_steps(contender.alloc, steps, contender.name))
                .unwrap_or_else(|| panic!("no pair or churn workload {workload}"));
            assert_eq!(outcome.steps, steps as u64, "{workload} stopped early");
        }
        Some("arena") => print_arena_table(source, arenas),
        Some("report") => {
            let out = flag_value(&args, "--out").expect("report needs --out DIR");
            let mut raws: Vec<&String> = Vec::new();
            let mut rest = args.iter().skip(1);
            while let Some(arg) = rest.next() {
                if arg == "--out" {
                    rest.next();
                } else if !arg.starts_with("--") {
                    raws.push(arg);
                }
            }
            if let Err(problem) = report::write(&raws, &out, scale) {
                eprintln!("report: {problem}");
                std::process::exit(1);
            }
        }
        _ => {
            eprintln!(
                "usage: {source} run [--quick] [--rounds N] [--only NAME] --out RAW.csv | rss ALLOCATOR WORKLOAD [--quick] | once ALLOCATOR WORKLOAD STEPS | arena | report [--quick] --out DIR RAW.csv..."
            );
            std::process::exit(2);
        }
    }
}

/// Every measurement of this binary, as raw CSV rows; with `only`, just the
/// timed workloads whose name contains it (a developer's quick look at one
/// row: no arena fill, no footprint children).
fn run(
    source: &str,
    contenders: &[Contender],
    arenas: &[ArenaContender],
    scale: Scale,
    rounds: usize,
    only: Option<&str>,
) -> String {
    // A run longer than this stops early and the cell keeps that one round:
    // allocators whose cost grows with the heap would otherwise take
    // minutes on the 100k-live workloads.
    let budget = match scale {
        Scale::Full => Duration::from_millis(1000),
        Scale::Quick => Duration::from_secs(20),
    };
    let mut rows = Rows {
        out: String::new(),
        source: source.into(),
    };
    let started = Instant::now();
    for workload in workloads::ALL {
        let name = workload.name();
        if only.is_some_and(|only| !name.contains(only)) {
            continue;
        }
        let mut capped = vec![false; contenders.len()];
        for round in 0..rounds {
            // Each round starts with a different allocator, so slow drift
            // of the machine (other jobs, thermal state) spreads over all.
            for k in 0..contenders.len() {
                let index = (k + round) % contenders.len();
                if capped[index] {
                    continue;
                }
                let contender = &contenders[index];
                let start = Instant::now();
                let outcome = workload.run(contender.alloc, scale, start + budget, contender.name);
                let elapsed = start.elapsed();
                assert!(
                    outcome.steps > 0,
                    "{} / {name}: no step done",
                    contender.name
                );
                let ns = elapsed.as_nanos() as f64 / outcome.steps as f64;
                capped[index] = outcome.capped;
                rows.push(
                    "time",
                    &name,
                    contender.name,
                    round,
                    ns,
                    if outcome.leaked {
                        "leaked"
                    } else if outcome.capped {
                        "capped"
                    } else {
                        "ok"
                    },
                );
            }
        }
        eprintln!(
            "[{:>6.1}s] {source}: {name} done",
            started.elapsed().as_secs_f64()
        );
    }
    if only.is_some() {
        return rows.out;
    }
    arena_fills(&mut rows, arenas);
    eprintln!(
        "[{:>6.1}s] {source}: arena fill done",
        started.elapsed().as_secs_f64()
    );
    for workload in rss::ALL {
        for contender in contenders {
            let fp = rss::measure(contender.name, workload, scale);
            let mib = |bytes: usize| bytes as f64 / (1 << 20) as f64;
            let efficiency = fp.peak_live as f64 / fp.peak_rss.max(1) as f64;
            rows.push(
                "rss_peak_mib",
                workload.name,
                contender.name,
                0,
                mib(fp.peak_rss),
                if fp.capped { "capped" } else { "ok" },
            );
            rows.push(
                "rss_efficiency",
                workload.name,
                contender.name,
                0,
                efficiency,
                if fp.capped { "capped" } else { "ok" },
            );
            rows.push(
                "rss_retained_mib",
                workload.name,
                contender.name,
                0,
                fp.retained.map_or(f64::NAN, mib),
                if fp.retained.is_none() {
                    "leaked"
                } else {
                    "ok"
                },
            );
        }
        eprintln!(
            "[{:>6.1}s] {source}: {} done",
            started.elapsed().as_secs_f64(),
            workload.name
        );
    }
    rows.out
}

/// Runs only the arena fills and prints their table (what the report's
/// utilisation section shows): a quick look without the timed workloads.
fn print_arena_table(source: &str, arenas: &[ArenaContender]) {
    let mut rows = Rows {
        out: String::new(),
        source: source.into(),
    };
    arena_fills(&mut rows, arenas);
    match report::arena_table(&rows.out) {
        Ok(table) => print!("{table}"),
        Err(problem) => {
            eprintln!("arena: {problem}");
            std::process::exit(1);
        }
    }
}

/// Runs every arena fill over every arena contender, one `arena` row each
/// (the workload is the fill's name, the value peak live / region).
fn arena_fills(rows: &mut Rows, arenas: &[ArenaContender]) {
    for fill in arena::FILLS {
        for contender in arenas {
            let ratio = arena::utilisation(contender, fill.sizes).ratio();
            rows.push("arena", fill.name, contender.name, 0, ratio, "ok");
        }
    }
}
