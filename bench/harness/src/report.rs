//! Turns the raw rows of one or more bench binaries into
//! `results.md` (tables), `results.csv` (one row per cell) and
//! `results.svg` (peer time over ours as a heat map, drawn from the CSV;
//! see [`crate::svg`]).
//!
//! The reference is glibc's allocator (`System`) measured in the same
//! process: an allocator measured by another binary (portable-dlmalloc,
//! whose C symbols clash with this project's) is compared with the
//! `System` of its own process, and compared with ours through the two
//! ratios.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::arena;
use crate::provenance;
use crate::rss;
use crate::svg;
use crate::workloads::{self, Scale};

/// The reference allocator's column name.
pub const REFERENCE: &str = "System";
/// Our global allocator's column name.
pub const OURS: &str = "DLMalloc";
/// The binary that measures our allocators (the others join through the
/// reference columns).
pub const MAIN_SOURCE: &str = "main";

/// One raw row.
struct Raw {
    source: String,
    kind: String,
    workload: String,
    allocator: String,
    value: f64,
    flag: String,
}

fn parse(text: &str, file: &str) -> Result<Vec<Raw>, String> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 7 {
                return Err(format!("{file}: bad row {line:?}"));
            }
            Ok(Raw {
                source: f[0].into(),
                kind: f[1].into(),
                workload: f[2].into(),
                allocator: f[3].into(),
                value: f[5]
                    .parse()
                    .map_err(|_| format!("{file}: bad value in {line:?}"))?,
                flag: f[6].into(),
            })
        })
        .collect()
}

/// The rounds of one timed cell.
#[derive(Default, Clone)]
pub struct Cell {
    values: Vec<f64>,
    capped: bool,
    leaked: bool,
}

impl Cell {
    /// The median of the rounds.
    pub fn median(&self) -> f64 {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
    fn min(&self) -> f64 {
        self.values.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn max(&self) -> f64 {
        self.values.iter().copied().fold(0.0, f64::max)
    }
    /// (max - min) / median, in percent.
    fn spread(&self) -> f64 {
        (self.max() - self.min()) / self.median() * 100.0
    }
}

/// A column: an allocator and the process that measured it.
#[derive(Clone)]
pub struct Column {
    /// The allocator's name.
    pub name: String,
    source: String,
}

/// Everything the tables need.
pub struct Results {
    /// Allocators in column order.
    pub columns: Vec<Column>,
    /// Timed workloads in row order.
    pub workloads: Vec<String>,
    cells: BTreeMap<(String, String, String), Cell>,
    metrics: BTreeMap<(String, String, String), f64>,
}

impl Results {
    fn cell(&self, source: &str, workload: &str, allocator: &str) -> Option<&Cell> {
        self.cells
            .get(&(source.into(), workload.into(), allocator.into()))
    }

    /// The column's median over the reference's median in the column's own
    /// process.
    pub fn ratio_vs_reference(&self, column: &Column, workload: &str) -> Option<f64> {
        let cell = self.cell(&column.source, workload, &column.name)?;
        let reference = self.cell(&column.source, workload, REFERENCE)?;
        Some(cell.median() / reference.median())
    }

    /// The column's ratio vs the reference over ours.
    fn ratio_vs_ours(&self, column: &Column, workload: &str) -> Option<f64> {
        let ours = Column {
            name: OURS.into(),
            source: MAIN_SOURCE.into(),
        };
        Some(
            self.ratio_vs_reference(column, workload)?
                / self.ratio_vs_reference(&ours, workload)?,
        )
    }
}

fn collect(rows: &[Raw]) -> Results {
    let mut columns: Vec<Column> = Vec::new();
    let mut workloads_seen: Vec<String> = Vec::new();
    let mut cells: BTreeMap<(String, String, String), Cell> = BTreeMap::new();
    let mut metrics = BTreeMap::new();
    // Main-process columns first, then what only another process measured.
    let mut ordered: Vec<&Raw> = rows.iter().filter(|r| r.source == MAIN_SOURCE).collect();
    ordered.extend(rows.iter().filter(|r| r.source != MAIN_SOURCE));
    for r in ordered {
        if r.kind == "time" {
            if !columns.iter().any(|c| c.name == r.allocator) {
                columns.push(Column {
                    name: r.allocator.clone(),
                    source: r.source.clone(),
                });
            }
            if !workloads_seen.contains(&r.workload) {
                workloads_seen.push(r.workload.clone());
            }
            let cell = cells
                .entry((r.source.clone(), r.workload.clone(), r.allocator.clone()))
                .or_default();
            cell.values.push(r.value);
            cell.capped |= r.flag != "ok";
            cell.leaked |= r.flag == "leaked";
        } else {
            // The main process measured the allocators it shares with the
            // others; keep its numbers.
            metrics
                .entry((r.kind.clone(), r.workload.clone(), r.allocator.clone()))
                .or_insert(r.value);
        }
    }
    Results {
        columns,
        workloads: workloads_seen,
        cells,
        metrics,
    }
}

/// Checks that every binary ran every timed and footprint workload for
/// every allocator it measured: the quick mode's pass condition.
fn check_complete(rows: &[Raw]) -> Result<(), String> {
    let mut per_source: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.kind == "time") {
        let list = per_source.entry(&r.source).or_default();
        if !list.contains(&r.allocator.as_str()) {
            list.push(&r.allocator);
        }
    }
    if !per_source.contains_key(MAIN_SOURCE) {
        return Err(format!("no rows from the {MAIN_SOURCE} binary"));
    }
    let has = |source: &str, kind: &str, workload: &str, allocator: &str| {
        rows.iter().any(|r| {
            r.source == source
                && r.kind == kind
                && r.workload == workload
                && r.allocator == allocator
        })
    };
    for (source, allocators) in &per_source {
        for allocator in allocators {
            for workload in workloads::ALL {
                if !has(source, "time", &workload.name(), allocator) {
                    return Err(format!(
                        "{source}: {allocator} did not run {}",
                        workload.name()
                    ));
                }
            }
            for workload in rss::ALL {
                if !has(source, "rss_peak_mib", workload.name, allocator) {
                    return Err(format!(
                        "{source}: {allocator} did not run {}",
                        workload.name
                    ));
                }
            }
        }
        if !allocators.contains(&REFERENCE) {
            return Err(format!(
                "{source}: the reference {REFERENCE} was not measured"
            ));
        }
    }
    check_arena_complete(rows)
}

/// Checks that some allocator ran the arena fills, and that every
/// allocator that ran one ran them all.
fn check_arena_complete(rows: &[Raw]) -> Result<(), String> {
    let arena: Vec<&Raw> = rows.iter().filter(|r| r.kind == "arena").collect();
    if arena.is_empty() {
        return Err("no arena fill was measured".into());
    }
    for allocator in arena.iter().map(|r| &r.allocator) {
        for fill in arena::FILLS {
            if !arena
                .iter()
                .any(|r| &r.allocator == allocator && r.workload == fill.name)
            {
                return Err(format!("{allocator} did not run {}", fill.name));
            }
        }
    }
    Ok(())
}

/// The versions of the peer crates, from the bench workspace's lock file.
fn peer_versions() -> String {
    const PEERS: &[&str] = &[
        "dlmalloc",
        "portable-dlmalloc",
        "talc",
        "rlsf",
        "linked_list_allocator",
        "buddy_system_allocator",
        "embedded-alloc",
        "mimalloc",
        "libmimalloc-sys",
        "tikv-jemallocator",
        "tikv-jemalloc-sys",
    ];
    provenance::locked_versions(PEERS)
}

fn fmt_ratio(r: Option<f64>) -> String {
    match r {
        Some(r) if r >= 10.0 => format!("{r:.0}"),
        Some(r) if r >= 0.1 => format!("{r:.2}"),
        Some(r) => format!("{r:.1e}"),
        None => "–".into(),
    }
}

/// Writes results.md, results.csv and results.svg into `dir` from the raw
/// files.
///
/// # Errors
///
/// A raw file that cannot be read or parsed, a missing measurement, or an
/// output that cannot be written.
pub fn write(raw_files: &[&String], dir: &str, scale: Scale) -> Result<(), String> {
    let mut rows = Vec::new();
    for file in raw_files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
        rows.extend(parse(&text, file)?);
    }
    check_complete(&rows)?;
    let results = collect(&rows);
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    let dir = Path::new(dir);
    let md = markdown(&results, scale);
    std::fs::write(dir.join("results.md"), md).map_err(|e| e.to_string())?;
    let csv = csv(&results);
    std::fs::write(dir.join("results.csv"), &csv).map_err(|e| e.to_string())?;
    // The plot is drawn from the CSV, as `bench-harness --bin plot` redraws
    // it from a committed one: both ways give the same picture.
    let plot = svg::chart(&svg::Plot::from_csv(&csv)?);
    std::fs::write(dir.join("results.svg"), plot).map_err(|e| e.to_string())?;
    let timed = results.cells.len();
    println!(
        "report: {} allocators, {} timed workloads, {timed} timed cells, {} other measurements; all verified",
        results.columns.len(),
        results.workloads.len(),
        results.metrics.len()
    );
    // Every cell ran and verified its blocks (a failure panics earlier), in
    // the summary form CI reads.
    println!("bench: {} passed, 0 failed", timed + results.metrics.len());
    Ok(())
}

fn header_row(out: &mut String, first: &str, columns: &[Column]) {
    write!(out, "| {first} |").unwrap();
    for c in columns {
        let mark = if c.source == MAIN_SOURCE { "" } else { " †" };
        write!(out, " {}{mark} |", c.name).unwrap();
    }
    out.push('\n');
    out.push_str("|---|");
    for _ in columns {
        out.push_str("---:|");
    }
    out.push('\n');
}

fn markdown(r: &Results, scale: Scale) -> String {
    let mut out = String::new();
    let o = &mut out;
    writeln!(o, "# Allocator benchmark results\n").unwrap();
    if scale == Scale::Quick {
        writeln!(
            o,
            "**Quick mode** (CI): every workload ran once with small counts and verified its \
             blocks. The times below mean nothing and are not judged.\n"
        )
        .unwrap();
    }
    o.push_str(&provenance::lines());
    writeln!(o, "- Peers: {}", peer_versions()).unwrap();
    writeln!(
        o,
        "- Ours: `DLMalloc` (global heap, hosted platform `dlmalloc-platform-std`), \
         `MspaceAlloc` (a locked mspace created on first use, system memory), `Mspace` (a \
         locked mspace over a 1 GiB region of its own, as the region-based peers get and as \
         bare metal uses it: `Mspace::from_raw_region_locked` with `Growth::Fixed`, behind a \
         `GlobalAlloc` adapter) — as built from this commit.\n\
         - Region-based peers (talc, linked_list, buddy, emb-tlsf, emb-llff) each get one 1 GiB \
         lazily-backed mmap region for the whole run; talc is a `TalcLock` over parking_lot's \
         mutex, with a `Claim` source; rlsf is its `GlobalTlsf` (pages from the OS).\n\
         - † measured in a second process (portable-dlmalloc exports the same C symbols as our \
         core); its ratios are against the `System` of that process.\n\
         - Every block is verified (tags at both ends written on alloc, checked on free and \
         realloc); a verification failure aborts the run.\n"
    )
    .unwrap();

    writeln!(o, "## Ratio vs ours (compact)\n").unwrap();
    writeln!(
        o,
        "Geometric mean over the timed workloads of (peer time / `DLMalloc` time); below 1 \
         the peer is faster. Best and worst workload for the peer in brackets.\n"
    )
    .unwrap();
    writeln!(
        o,
        "| allocator | geo-mean vs DLMalloc | best | worst |\n|---|---:|---|---|"
    )
    .unwrap();
    for c in r.columns.iter().filter(|c| c.name != OURS) {
        let ratios: Vec<(f64, &String)> = r
            .workloads
            .iter()
            .filter_map(|w| r.ratio_vs_ours(c, w).map(|x| (x, w)))
            .collect();
        if ratios.is_empty() {
            continue;
        }
        let geo = (ratios.iter().map(|(x, _)| x.ln()).sum::<f64>() / ratios.len() as f64).exp();
        let best = ratios.iter().min_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
        let worst = ratios.iter().max_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
        writeln!(
            o,
            "| {} | {:.2} | {} ({}) | {} ({}) |",
            c.name,
            geo,
            best.1,
            fmt_ratio(Some(best.0)),
            worst.1,
            fmt_ratio(Some(worst.0))
        )
        .unwrap();
    }

    writeln!(
        o,
        "\n## Time per step (ns, median of rounds, ± spread = (max−min)/median)\n"
    )
    .unwrap();
    writeln!(
        o,
        "A cell marked `*` hit the {}-per-run budget: it stopped early and kept that one \
         round; `‡`: freeing its blocks took over 1 s more, so the rest were leaked into the \
         allocator's own region (the leaking workloads run last).\n",
        if scale == Scale::Quick { "20 s" } else { "1 s" }
    )
    .unwrap();
    header_row(o, "workload (step)", &r.columns);
    for w in &r.workloads {
        let step = workloads::ALL
            .iter()
            .find(|x| &x.name() == w)
            .map(|x| x.step())
            .unwrap_or("");
        write!(o, "| {w} ({step}) |").unwrap();
        for c in &r.columns {
            match r.cell(&c.source, w, &c.name) {
                Some(cell) => {
                    let mark = match (cell.capped, cell.leaked) {
                        (_, true) => "*‡",
                        (true, false) => "*",
                        _ => "",
                    };
                    write!(o, " {:.1}{mark} ±{:.0}% |", cell.median(), cell.spread()).unwrap()
                }
                None => write!(o, " – |").unwrap(),
            }
        }
        o.push('\n');
    }

    for (title, f) in [
        (
            "Ratio vs System (glibc) — below 1 is faster",
            Results::ratio_vs_reference as fn(&Results, &Column, &str) -> Option<f64>,
        ),
        (
            "Ratio vs ours (DLMalloc) — below 1 the peer is faster",
            Results::ratio_vs_ours,
        ),
    ] {
        writeln!(o, "\n## {title}\n").unwrap();
        header_row(o, "workload", &r.columns);
        for w in &r.workloads {
            write!(o, "| {w} |").unwrap();
            for c in &r.columns {
                write!(o, " {} |", fmt_ratio(f(r, c, w))).unwrap();
            }
            o.push('\n');
        }
    }

    o.push('\n');
    o.push_str(&utilisation_section(&r.metrics));

    writeln!(o, "\n## Memory footprint (child process per cell)\n").unwrap();
    writeln!(
        o,
        "Peak RSS = VmHWM growth over the resident set before the workload; efficiency = \
         peak live bytes / peak RSS (higher is better); retained = VmRSS growth left after \
         every block was freed.\n"
    )
    .unwrap();
    let mem_columns: Vec<Column> = r.columns.clone();
    header_row(o, "workload / metric", &mem_columns);
    for w in rss::ALL {
        for (kind, label, unit) in [
            ("rss_peak_mib", "peak RSS", " MiB"),
            ("rss_efficiency", "live/RSS", ""),
            ("rss_retained_mib", "retained", " MiB"),
        ] {
            write!(o, "| {} {label} |", w.name).unwrap();
            for c in &mem_columns {
                match r
                    .metrics
                    .get(&(kind.to_string(), w.name.to_string(), c.name.clone()))
                {
                    Some(v) if v.is_nan() => write!(o, " n/a (free too slow) |"),
                    Some(v) if kind == "rss_efficiency" => write!(o, " {:.0}% |", v * 100.0),
                    Some(v) => write!(o, " {v:.1}{unit} |"),
                    None => write!(o, " – |"),
                }
                .unwrap();
            }
            o.push('\n');
        }
    }
    writeln!(
        o,
        "\nThe plot `results.svg` shows the ratios vs ours as a heat map, peers grouped into \
         hosted and `no_std` allocators."
    )
    .unwrap();
    out
}

/// The arena table alone, from raw rows: what `BIN arena` prints.
///
/// # Errors
///
/// A raw row that cannot be parsed, or a fill an allocator did not run.
pub fn arena_table(raw: &str) -> Result<String, String> {
    let rows = parse(raw, "arena rows")?;
    check_arena_complete(&rows)?;
    Ok(utilisation_section(&collect(&rows).metrics))
}

/// The "Fixed-arena utilisation" section: one row per allocator, one column
/// per fill that was measured (in [`arena::FILLS`] order), each cell the
/// peak live bytes over the region.
fn utilisation_section(metrics: &BTreeMap<(String, String, String), f64>) -> String {
    let mut out = String::new();
    let o = &mut out;
    writeln!(o, "## Fixed-arena utilisation\n").unwrap();
    writeln!(
        o,
        "A fresh 16 MiB region per allocator and fill; each step allocates a block (3/4) or \
         frees a random live one (1/4), until the first null. The first fill draws random \
         sizes; the others ask for one size each, so a heap's per-block cost (header, minimum \
         block, rounding) shows. Peak live bytes (as asked) / region size; higher is better.\n"
    )
    .unwrap();
    let value = |fill: &str, allocator: &str| {
        metrics
            .get(&("arena".into(), fill.into(), allocator.into()))
            .copied()
    };
    let mut allocators: Vec<&String> = Vec::new();
    for (_, _, a) in metrics.keys().filter(|(kind, _, _)| kind == "arena") {
        if !allocators.contains(&a) {
            allocators.push(a);
        }
    }
    let fills: Vec<&arena::Fill> = arena::FILLS
        .iter()
        .filter(|f| allocators.iter().any(|a| value(f.name, a).is_some()))
        .collect();
    write!(o, "| allocator |").unwrap();
    for f in &fills {
        write!(o, " {} (`{}`) |", f.sizes.describe(), f.name).unwrap();
    }
    o.push_str("\n|---|");
    for _ in &fills {
        o.push_str("---:|");
    }
    o.push('\n');
    for a in allocators {
        write!(o, "| {a} |").unwrap();
        for f in &fills {
            match value(f.name, a) {
                Some(v) => write!(o, " {:.2}% |", v * 100.0),
                None => write!(o, " – |"),
            }
            .unwrap();
        }
        o.push('\n');
    }
    out
}

fn csv(r: &Results) -> String {
    let mut out = String::from(
        "kind,workload,allocator,process,value,min,max,spread_pct,rounds,capped,ratio_vs_system,ratio_vs_dlmalloc\n",
    );
    for w in &r.workloads {
        for c in &r.columns {
            if let Some(cell) = r.cell(&c.source, w, &c.name) {
                writeln!(
                    out,
                    "time_ns_per_step,{w},{},{},{:.2},{:.2},{:.2},{:.1},{},{},{},{}",
                    c.name,
                    c.source,
                    cell.median(),
                    cell.min(),
                    cell.max(),
                    cell.spread(),
                    cell.values.len(),
                    cell.capped,
                    r.ratio_vs_reference(c, w)
                        .map(|x| format!("{x:.4}"))
                        .unwrap_or_default(),
                    r.ratio_vs_ours(c, w)
                        .map(|x| format!("{x:.4}"))
                        .unwrap_or_default(),
                )
                .unwrap();
            }
        }
    }
    for ((kind, w, a), v) in &r.metrics {
        if kind.starts_with("load") {
            continue;
        }
        writeln!(out, "{kind},{w},{a},,{v:.4},,,,1,false,,").unwrap();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Raw arena rows: `allocator` ran `fills`, each scoring `value`.
    fn arena_rows(allocator: &str, fills: &[&str], value: f64) -> String {
        fills
            .iter()
            .map(|fill| format!("main,arena,{fill},{allocator},0,{value},ok\n"))
            .collect()
    }

    #[test]
    fn arena_table_has_a_column_per_fill_and_a_row_per_allocator() {
        let fills: Vec<&str> = arena::FILLS.iter().map(|f| f.name).collect();
        let raw = arena_rows("talc", &fills, 0.5) + &arena_rows("Mspace", &fills, 0.25);
        let table = arena_table(&raw).unwrap();
        let header = table
            .lines()
            .find(|l| l.starts_with("| allocator"))
            .unwrap();
        for fill in &fills {
            assert!(header.contains(&format!("(`{fill}`)")), "{header}");
        }
        let row = |a: &str| {
            table
                .lines()
                .find(|l| l.starts_with(&format!("| {a} |")))
                .unwrap()
                .to_string()
        };
        assert_eq!(row("talc").matches(" 50.00% |").count(), fills.len());
        assert_eq!(row("Mspace").matches(" 25.00% |").count(), fills.len());
    }

    #[test]
    fn an_allocator_that_missed_a_fill_is_reported() {
        let raw = arena_rows("talc", &["arena-16m"], 0.9);
        let problem = arena_table(&raw).unwrap_err();
        assert!(problem.contains("talc did not run"), "{problem}");
    }

    #[test]
    fn the_table_shows_only_the_fills_that_were_measured() {
        // An older raw file knows only the random fill.
        let rows = parse(&arena_rows("talc", &["arena-16m"], 0.9), "old").unwrap();
        let section = utilisation_section(&collect(&rows).metrics);
        assert!(section.contains("(`arena-16m`) |\n"), "{section}");
        assert!(section.contains("| talc | 90.00% |"), "{section}");
    }
}
