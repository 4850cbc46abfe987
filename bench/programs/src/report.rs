//! Writes `programs.md` (tables) and `programs.csv` (one row per cell)
//! from the driver's rows.
//!
//! A cell is the median of its rounds; the ratios are peer time (or peak
//! resident set) over ours, so above 1 means ours is faster (or smaller).

use std::fmt::Write as _;
use std::path::Path;

use bench_harness::provenance;
use bench_harness::workloads::Scale;

use crate::driver::{ALLOCATORS, Row};

/// The crates whose versions the report states, as locked in
/// `bench/Cargo.lock`.
const CRATES: &[&str] = &[
    "syn",
    "serde",
    "serde_json",
    "flate2",
    "miniz_oxide",
    "rayon",
    "mimalloc",
    "libmimalloc-sys",
    "tikv-jemallocator",
    "tikv-jemalloc-sys",
];

/// The median of `values` (not empty).
fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.into_iter().collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The numbers of one (program, threads, allocator) cell.
struct Cell {
    /// Median wall time, ms.
    ms: f64,
    /// Fastest and slowest round, ms.
    min_ms: f64,
    max_ms: f64,
    /// Median peak resident set, MiB.
    rss_mib: f64,
}

impl Cell {
    /// (max − min) / median, in percent.
    fn spread_pct(&self) -> f64 {
        (self.max_ms - self.min_ms) / self.ms * 100.0
    }
}

/// The cells of a row, in [`ALLOCATORS`] order.
fn cells(row: &Row) -> Vec<Cell> {
    row.runs
        .iter()
        .map(|runs| {
            let ms = runs.iter().map(|m| m.seconds * 1e3);
            Cell {
                ms: median(ms.clone()),
                min_ms: ms.clone().fold(f64::INFINITY, f64::min),
                max_ms: ms.fold(0.0, f64::max),
                rss_mib: median(runs.iter().map(|m| m.peak_rss as f64 / (1 << 20) as f64)),
            }
        })
        .collect()
}

/// `name version` of each of [`CRATES`], from the bench workspace's lock
/// file.
fn crate_versions() -> String {
    provenance::locked_versions(CRATES)
}

/// A table header: the first columns, then one per allocator, then `extra`.
fn header(out: &mut String, first: &[&str], extra: &[String]) {
    let names = ALLOCATORS.iter().map(|a| a.name.to_owned());
    let all: Vec<String> = first
        .iter()
        .map(|s| (*s).to_owned())
        .chain(names)
        .chain(extra.iter().cloned())
        .collect();
    writeln!(out, "| {} |", all.join(" | ")).unwrap();
    let aligns: Vec<&str> = all
        .iter()
        .enumerate()
        .map(|(i, _)| if i < first.len() { "---" } else { "---:" })
        .collect();
    writeln!(out, "|{}|", aligns.join("|")).unwrap();
}

fn markdown(rows: &[Row], scale: Scale, rounds: usize) -> String {
    let ours = ALLOCATORS[0].name;
    let mut out = String::new();
    let o = &mut out;
    writeln!(o, "# Real programs: allocator benchmark results\n").unwrap();
    if scale == Scale::Quick {
        writeln!(
            o,
            "**Quick mode** (CI): every program ran once with small inputs and verified its \
             result. The times below mean nothing and are not judged.\n"
        )
        .unwrap();
    }
    o.push_str(&provenance::lines());
    writeln!(o, "- Crates: {}", crate_versions()).unwrap();
    writeln!(
        o,
        "- Each allocator is the `#[global_allocator]` of its own binary; every run is a \
         child process. A cell is the median of {rounds} round(s); in each round every \
         allocator runs once, the first one rotating. Time: wall time of the work, measured \
         in the child once its input is built and its thread pool started. Peak RSS: the \
         child's `VmHWM` (median of the rounds).\n\
         - Every run verifies its result, and its check value must equal every other run's \
         of the same program, whatever the allocator or thread count.\n"
    )
    .unwrap();

    writeln!(o, "## Programs\n").unwrap();
    writeln!(o, "| program | what | input | check |\n|---|---|---|---|").unwrap();
    for row in rows.iter().filter(|r| r.threads == 1) {
        let first = &row.runs[0][0];
        writeln!(
            o,
            "| {} | {} | {} | {} {} |",
            row.program.name(),
            row.program.what(),
            first.input,
            first.check,
            row.program.check()
        )
        .unwrap();
    }

    writeln!(
        o,
        "\n## Time (ms, median ± spread = (max−min)/median) and peer/ours\n\n\
         Above 1: `{ours}` is faster.\n"
    )
    .unwrap();
    let ratios: Vec<String> = ALLOCATORS[1..]
        .iter()
        .map(|a| format!("{}/ours", a.name))
        .collect();
    header(o, &["program", "threads"], &ratios);
    for row in rows {
        let cells = cells(row);
        write!(o, "| {} | {} |", row.program.name(), row.threads).unwrap();
        for c in &cells {
            write!(o, " {:.0} ±{:.0}% |", c.ms, c.spread_pct()).unwrap();
        }
        for c in &cells[1..] {
            write!(o, " {:.2} |", c.ms / cells[0].ms).unwrap();
        }
        o.push('\n');
    }

    writeln!(
        o,
        "\n## Peak RSS (MiB, median) and peer/ours\n\nAbove 1: `{ours}` is smaller.\n"
    )
    .unwrap();
    header(o, &["program", "threads"], &ratios);
    for row in rows {
        let cells = cells(row);
        write!(o, "| {} | {} |", row.program.name(), row.threads).unwrap();
        for c in &cells {
            write!(o, " {:.1} |", c.rss_mib).unwrap();
        }
        for c in &cells[1..] {
            write!(o, " {:.2} |", c.rss_mib / cells[0].rss_mib).unwrap();
        }
        o.push('\n');
    }
    out
}

fn csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "program,threads,allocator,rounds,median_ms,min_ms,max_ms,spread_pct,peak_rss_mib,time_vs_ours,rss_vs_ours\n",
    );
    for row in rows {
        let cells = cells(row);
        for (allocator, c) in ALLOCATORS.iter().zip(&cells) {
            writeln!(
                out,
                "{},{},{},{},{:.2},{:.2},{:.2},{:.1},{:.2},{:.4},{:.4}",
                row.program.name(),
                row.threads,
                allocator.name,
                row.runs[0].len(),
                c.ms,
                c.min_ms,
                c.max_ms,
                c.spread_pct(),
                c.rss_mib,
                c.ms / cells[0].ms,
                c.rss_mib / cells[0].rss_mib
            )
            .unwrap();
        }
    }
    out
}

/// Writes `programs.md` and `programs.csv` into `dir`.
///
/// # Errors
///
/// A file that cannot be written.
pub fn write(rows: &[Row], dir: &Path, scale: Scale, rounds: usize) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, text) in [
        ("programs.md", markdown(rows, scale, rounds)),
        ("programs.csv", csv(rows)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
