//! The child's side: one program, once, in a process whose global
//! allocator is the one under test.
//!
//! ```text
//! programs-ALLOCATOR PROGRAM THREADS [--quick]
//! ```
//!
//! It prints one [`Measurement`] line. A program that finds a wrong result
//! panics, so the child exits non-zero and the driver stops.

use std::time::Instant;

use bench_harness::workloads::Scale;

use crate::deflate::Deflate;
use crate::json::SerdeJson;
use crate::program::{Program, Workload};
use crate::syntax::SynParse;

/// What one child measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Wall time of the work, in seconds.
    pub seconds: f64,
    /// Peak resident set of the child (`VmHWM`), in bytes.
    pub peak_rss: u64,
    /// The program's check value.
    pub check: u64,
    /// The program's description of its input.
    pub input: String,
}

impl Measurement {
    /// The line the child prints: the fields, tab-separated.
    pub fn to_line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}",
            self.seconds, self.peak_rss, self.check, self.input
        )
    }

    /// Reads a line printed by [`Measurement::to_line`].
    pub fn parse(line: &str) -> Option<Measurement> {
        let mut fields = line.trim_end().splitn(4, '\t');
        Some(Measurement {
            seconds: fields.next()?.parse().ok()?,
            peak_rss: fields.next()?.parse().ok()?,
            check: fields.next()?.parse().ok()?,
            input: fields.next()?.to_owned(),
        })
    }
}

/// The peak resident set of this process (`VmHWM` in /proc/self/status),
/// in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line in /proc/self/status");
    kib * 1024
}

/// Prepares `W`'s input, then times its work on a pool of `threads`
/// threads (started before the clock).
fn measure<W: Workload>(scale: Scale, threads: usize) -> Measurement {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    let input = W::prepare(scale);
    let start = Instant::now();
    let check = pool.install(|| W::run(&input));
    let seconds = start.elapsed().as_secs_f64();
    Measurement {
        seconds,
        peak_rss: peak_rss(),
        check,
        input: W::describe(&input),
    }
}

/// The `main` of every allocator binary: runs the program named on the
/// command line and prints its [`Measurement`].
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: programs-ALLOCATOR PROGRAM THREADS [--quick]";
    let program = args
        .first()
        .and_then(|name| Program::from_name(name))
        .expect(usage);
    let threads: usize = args.get(1).and_then(|n| n.parse().ok()).expect(usage);
    let scale = if args.iter().any(|a| a == "--quick") {
        Scale::Quick
    } else {
        Scale::Full
    };
    let measurement = match program {
        Program::SynParse => measure::<SynParse>(scale, threads),
        Program::SerdeJson => measure::<SerdeJson>(scale, threads),
        Program::Deflate => measure::<Deflate>(scale, threads),
    };
    println!("{}", measurement.to_line());
}

#[cfg(test)]
mod tests {
    use super::Measurement;

    #[test]
    fn a_printed_line_reads_back() {
        let m = Measurement {
            seconds: 0.125,
            peak_rss: 12 << 20,
            check: 671_201,
            input: "2000 files, 19.5 MiB".into(),
        };
        assert_eq!(Measurement::parse(&format!("{}\n", m.to_line())), Some(m));
        assert_eq!(Measurement::parse("0.1\t12"), None);
    }
}
