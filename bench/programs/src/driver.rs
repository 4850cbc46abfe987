//! The driver, `bench-programs`: runs every (program, thread count,
//! allocator) in a child process, round after round, checks that all of
//! them computed the same thing, and writes the report.
//!
//! ```text
//! bench-programs [--quick] [--rounds N] --out DIR   writes DIR/programs.{md,csv}
//! ```
//!
//! In each round every allocator runs once, the starting allocator
//! rotating from round to round so that drift of the machine spreads over
//! all of them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use bench_harness::workloads::Scale;

use crate::child::Measurement;
use crate::program::Program;
use crate::report;

/// An allocator under test.
#[derive(Clone, Copy, Debug)]
pub struct Allocator {
    /// Its column name (the names of the main benchmark's report).
    pub name: &'static str,
    /// Its binary, beside the driver's.
    pub binary: &'static str,
}

/// Ours first: the ratios are taken against it.
pub const ALLOCATORS: [Allocator; 4] = [
    Allocator {
        name: "DLMalloc",
        binary: "programs-dlmalloc",
    },
    Allocator {
        name: "System",
        binary: "programs-system",
    },
    Allocator {
        name: "mimalloc",
        binary: "programs-mimalloc",
    },
    Allocator {
        name: "jemalloc",
        binary: "programs-jemalloc",
    },
];

/// The thread counts each program runs with: one thread, and a pool of
/// two (this machine has two cores).
pub const THREADS: [usize; 2] = [1, 2];

/// Every run of one program at one thread count.
#[derive(Debug)]
pub struct Row {
    /// The program.
    pub program: Program,
    /// Threads of its pool.
    pub threads: usize,
    /// Per allocator, in [`ALLOCATORS`] order, one measurement per round.
    pub runs: Vec<Vec<Measurement>>,
}

/// Runs `program` on `threads` threads in the child `binary` (a sibling of
/// this executable) and reads its measurement.
///
/// # Panics
///
/// If the child fails: a program that found a wrong result fails it.
fn run_child(binary: &Path, program: Program, threads: usize, scale: Scale) -> Measurement {
    let mut command = Command::new(binary);
    command.args([program.name(), &threads.to_string()]);
    if scale == Scale::Quick {
        command.arg("--quick");
    }
    let what = format!("{} {} {threads}", binary.display(), program.name());
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Measurement::parse(&stdout).unwrap_or_else(|| panic!("{what} printed {stdout:?}"))
}

/// The value following `flag` on the command line.
fn flag_value(args: &[String], flag: &str) -> Option<String> {
    args.iter().position(|a| a == flag).map(|i| {
        args.get(i + 1)
            .cloned()
            .unwrap_or_else(|| panic!("{flag} needs a value"))
    })
}

/// Runs everything `rounds` times.
///
/// # Panics
///
/// If a child fails, or computed something else (another check value, or
/// another input) than the first run of the same program.
pub fn run(scale: Scale, rounds: usize) -> Vec<Row> {
    let dir = std::env::current_exe()
        .expect("the driver's path")
        .parent()
        .expect("the driver's directory")
        .to_owned();
    let binaries: Vec<PathBuf> = ALLOCATORS.iter().map(|a| dir.join(a.binary)).collect();
    let started = Instant::now();
    let mut rows = Vec::new();
    for program in Program::ALL {
        let mut reference: Option<Measurement> = None;
        for threads in THREADS {
            let mut runs = vec![Vec::new(); ALLOCATORS.len()];
            for round in 0..rounds {
                for k in 0..ALLOCATORS.len() {
                    let index = (k + round) % ALLOCATORS.len();
                    let m = run_child(&binaries[index], program, threads, scale);
                    let first = reference.get_or_insert_with(|| m.clone());
                    assert!(
                        m.check == first.check && m.input == first.input,
                        "{} with {} on {threads} thread(s) computed {} on {:?}, \
                         but its first run computed {} on {:?}",
                        program.name(),
                        ALLOCATORS[index].name,
                        m.check,
                        m.input,
                        first.check,
                        first.input
                    );
                    runs[index].push(m);
                }
            }
            eprintln!(
                "[{:>6.1}s] programs: {} on {threads} thread(s) done",
                started.elapsed().as_secs_f64(),
                program.name()
            );
            rows.push(Row {
                program,
                threads,
                runs,
            });
        }
    }
    rows
}

/// The driver's command line.
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale = if args.iter().any(|a| a == "--quick") {
        Scale::Quick
    } else {
        Scale::Full
    };
    let rounds = match flag_value(&args, "--rounds") {
        Some(n) => n.parse().expect("--rounds takes a number"),
        None if scale == Scale::Quick => 1,
        None => 5,
    };
    let Some(out) = flag_value(&args, "--out") else {
        eprintln!("usage: bench-programs [--quick] [--rounds N] --out DIR");
        std::process::exit(2);
    };
    let started = Instant::now();
    let rows = run(scale, rounds);
    let seconds = started.elapsed().as_secs_f64();
    if let Err(problem) = report::write(&rows, Path::new(&out), scale, rounds) {
        eprintln!("programs: {problem}");
        std::process::exit(1);
    }
    let runs: usize = rows.iter().flat_map(|r| &r.runs).map(Vec::len).sum();
    println!(
        "programs: {} cells, {runs} runs, all verified, in {seconds:.0} s; results in {out}/programs.{{md,csv}}",
        rows.len() * ALLOCATORS.len()
    );
}
