//! The plot: where `DLMalloc` stands against its peers. A heat map with one
//! row per timed workload and one column per peer; each cell holds the
//! peer's time divided by `DLMalloc`'s (above 1, ours is faster), printed
//! and coloured on a diverging scale centred on 1. The peers are grouped
//! into hosted allocators (they need an operating system) and `no_std`
//! ones (they run from memory they are given), strongest first, and the
//! fastest peer of each group is framed in every row. A first column gives
//! `DLMalloc`'s own time per step, a last row the geometric mean.
//!
//! The plot is drawn from `results.csv` (see [`Plot::from_csv`]), so it can
//! be redrawn from the committed CSV without measuring again
//! (`cargo run --manifest-path bench/Cargo.toml -p bench-harness --bin plot`).
//! Written as plain SVG text, so the benchmark needs no plotting library.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::{OURS, REFERENCE};
use crate::workloads::{self, Workload};

/// Allocators that need an operating system. Every other peer is a
/// `no_std` allocator; add a new hosted peer here.
const HOSTED: &[&str] = &[REFERENCE, "mimalloc", "jemalloc"];
/// Our other heaps: measured and tabled, but not peers, so not plotted.
const OUR_OTHER_HEAPS: &[&str] = &["MspaceAlloc", "Mspace"];

/// Ratios beyond these bounds get the strongest colour (a factor of 8).
const COLOUR_SPAN_LOG2: f64 = 3.0;

const FONT: f64 = 11.0;
const ROW: f64 = 22.0;
const CELL: f64 = 48.0;
const GROUP_GAP: f64 = 10.0;
const LABEL_RIGHT: f64 = 178.0;
const HEADER_TOP: f64 = 64.0;
/// Room for the slanted column names.
const HEADER_HEIGHT: f64 = 92.0;

/// What the plot shows, read from `results.csv`.
pub struct Plot {
    /// Timed workloads, in the CSV's order.
    workloads: Vec<String>,
    /// Peer names (our other heaps left out), in the CSV's order.
    peers: Vec<String>,
    /// `DLMalloc`'s median time per step, by workload.
    ours_ns: BTreeMap<String, f64>,
    /// Peer time / `DLMalloc` time, by (workload, peer).
    ratios: BTreeMap<(String, String), f64>,
    /// Rounds behind `DLMalloc`'s medians (the most in any workload).
    rounds: usize,
}

impl Plot {
    /// Reads the `time_ns_per_step` rows of a `results.csv` (the header
    /// names the columns it needs: `kind`, `workload`, `allocator`,
    /// `value`, `rounds`, `ratio_vs_dlmalloc`).
    ///
    /// # Errors
    ///
    /// A missing column, an unreadable number, or no `DLMalloc` times.
    pub fn from_csv(text: &str) -> Result<Plot, String> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines.next().ok_or("empty CSV")?.split(',').collect();
        let column = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .ok_or_else(|| format!("CSV has no `{name}` column"))
        };
        let (kind, workload, allocator) =
            (column("kind")?, column("workload")?, column("allocator")?);
        let (value, rounds, ratio) = (
            column("value")?,
            column("rounds")?,
            column("ratio_vs_dlmalloc")?,
        );
        let number = |field: &str, line: &str| {
            field
                .parse::<f64>()
                .map_err(|_| format!("bad number {field:?} in {line:?}"))
        };
        let mut plot = Plot {
            workloads: Vec::new(),
            peers: Vec::new(),
            ours_ns: BTreeMap::new(),
            ratios: BTreeMap::new(),
            rounds: 0,
        };
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != header.len() {
                return Err(format!("row {line:?} does not match the header"));
            }
            if f[kind] != "time_ns_per_step" {
                continue;
            }
            let (w, a) = (f[workload].to_string(), f[allocator].to_string());
            if !plot.workloads.contains(&w) {
                plot.workloads.push(w.clone());
            }
            if a == OURS {
                plot.ours_ns.insert(w, number(f[value], line)?);
                let n = number(f[rounds], line)?;
                plot.rounds = plot.rounds.max(n as usize);
            } else if !OUR_OTHER_HEAPS.contains(&a.as_str()) {
                if !plot.peers.contains(&a) {
                    plot.peers.push(a.clone());
                }
                if !f[ratio].is_empty() {
                    plot.ratios.insert((w, a), number(f[ratio], line)?);
                }
            }
        }
        if plot.ours_ns.is_empty() {
            return Err(format!("no {OURS} times in the CSV"));
        }
        Ok(plot)
    }

    fn ratio(&self, workload: &str, peer: &str) -> Option<f64> {
        self.ratios
            .get(&(workload.to_string(), peer.to_string()))
            .copied()
            .filter(|r| r.is_finite() && *r > 0.0)
    }

    /// The geometric mean of a peer's ratios over the workloads it ran.
    fn geo_mean(&self, peer: &str) -> Option<f64> {
        let logs: Vec<f64> = self
            .workloads
            .iter()
            .filter_map(|w| self.ratio(w, peer))
            .map(f64::ln)
            .collect();
        (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
    }

    /// The peers of one group, strongest (lowest geometric mean) first.
    fn group(&self, hosted: bool) -> Vec<&str> {
        let mut peers: Vec<&str> = self
            .peers
            .iter()
            .map(String::as_str)
            .filter(|p| HOSTED.contains(p) == hosted)
            .collect();
        peers.sort_by(|a, b| {
            let key = |p: &str| self.geo_mean(p).unwrap_or(f64::INFINITY);
            key(a).total_cmp(&key(b))
        });
        peers
    }
}

/// Escapes text for SVG.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The column name a reader knows the allocator by.
fn display_name(name: &str) -> &str {
    if name == REFERENCE { "glibc" } else { name }
}

/// A size in bytes as the row labels write it: 16 B, 1 KiB.
fn bytes(n: usize) -> String {
    if n >= 1024 && n % 1024 == 0 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} B")
    }
}

/// A readable row label for a workload name; the name itself if unknown.
fn label(name: &str) -> String {
    let Some(workload) = workloads::ALL.iter().find(|w| w.name() == name) else {
        return name.to_string();
    };
    match *workload {
        Workload::Pair(size) => format!("alloc/free pair, {}", bytes(size)),
        Workload::Churn {
            lo,
            hi,
            live,
            realloc,
        } => {
            let range = if lo >= 1024 && hi >= 1024 {
                format!("{}-{}", lo / 1024, bytes(hi))
            } else {
                format!("{}-{}", bytes(lo), bytes(hi))
            };
            let kind = if realloc { "realloc" } else { "churn" };
            format!("{kind} {range}, {}k live", live / 1000)
        }
        Workload::VecGrow => "vector doubled to 8 MiB".into(),
        Workload::Strings => "10k strings grown by 1 B".into(),
        Workload::Threads(n) => format!("{n} threads churning"),
        Workload::ProducerConsumer => "producer/consumer".into(),
    }
}

/// A ratio with two or three significant digits, as short as a cell needs.
fn fmt_ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}")
    } else if r >= 0.095 {
        format!("{r:.2}")
    } else if r >= 0.001 {
        format!("{r:.3}")
    } else {
        format!("{r:.0e}")
    }
}

/// A time per step in nanoseconds.
fn fmt_ns(ns: f64) -> String {
    if ns >= 100.0 {
        format!("{ns:.0}")
    } else {
        format!("{ns:.1}")
    }
}

/// The fill for a ratio, and whether its text should be white. Blue when
/// `DLMalloc` is faster (ratio above 1), red when the peer is, white at 1;
/// the intensity follows the ratio's logarithm up to a factor of 8.
fn colour(ratio: f64) -> (String, bool) {
    const NEUTRAL: [f64; 3] = [247.0, 247.0, 247.0];
    const OURS_FASTER: [f64; 3] = [33.0, 102.0, 172.0];
    const PEER_FASTER: [f64; 3] = [178.0, 24.0, 43.0];
    let t = (ratio.log2() / COLOUR_SPAN_LOG2).clamp(-1.0, 1.0);
    let end = if t >= 0.0 { OURS_FASTER } else { PEER_FASTER };
    let mix = |i: usize| (NEUTRAL[i] + (end[i] - NEUTRAL[i]) * t.abs()).round() as u8;
    (
        format!("#{:02x}{:02x}{:02x}", mix(0), mix(1), mix(2)),
        t.abs() > 0.55,
    )
}

/// Writes one coloured ratio cell; a missing ratio is a grey dash.
fn ratio_cell(s: &mut String, x: f64, y: f64, ratio: Option<f64>, tooltip: &str) {
    let Some(r) = ratio else {
        writeln!(
            s,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="#e0e0e0"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="middle" fill="#777">–</text>"##,
            w = CELL - 1.0,
            h = ROW - 1.0,
            tx = x + CELL / 2.0,
            ty = y + ROW / 2.0 + FONT * 0.35,
        )
        .unwrap();
        return;
    };
    let (fill, white) = colour(r);
    writeln!(
        s,
        r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"><title>{tip}: {r:.3}</title></rect><text x="{tx:.1}" y="{ty:.1}" text-anchor="middle" fill="{ink}">{text}</text>"##,
        w = CELL - 1.0,
        h = ROW - 1.0,
        tip = escape(tooltip),
        tx = x + CELL / 2.0,
        ty = y + ROW / 2.0 + FONT * 0.35,
        ink = if white { "#fff" } else { "#111" },
        text = fmt_ratio(r),
    )
    .unwrap();
}

/// Frames the cell at (x, y): the fastest peer of its group in that row.
fn frame(s: &mut String, x: f64, y: f64) {
    writeln!(
        s,
        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#111" stroke-width="2"/>"##,
        x + 0.5,
        y + 0.5,
        CELL - 2.0,
        ROW - 2.0
    )
    .unwrap();
}

/// A column name, slanted so long names fit over narrow cells.
fn column_name(s: &mut String, x: f64, name: &str, bold: bool) {
    let (bx, by) = (x + CELL / 2.0 - 3.0, HEADER_TOP + HEADER_HEIGHT - 6.0);
    writeln!(
        s,
        r#"<text x="{bx:.1}" y="{by:.1}" transform="rotate(-40 {bx:.1} {by:.1})"{}>{}</text>"#,
        if bold { r#" font-weight="bold""# } else { "" },
        escape(name)
    )
    .unwrap();
}

/// The SVG document.
pub fn chart(plot: &Plot) -> String {
    let hosted = plot.group(true);
    let no_std = plot.group(false);
    // x of the columns: DLMalloc's time, the hosted peers, the no_std peers.
    let ours_x = LABEL_RIGHT + 8.0;
    let hosted_x0 = ours_x + CELL + GROUP_GAP;
    let no_std_x0 = hosted_x0 + hosted.len() as f64 * CELL + GROUP_GAP;
    let columns: Vec<(f64, &str, bool)> = hosted
        .iter()
        .enumerate()
        .map(|(i, p)| (hosted_x0 + i as f64 * CELL, *p, true))
        .chain(
            no_std
                .iter()
                .enumerate()
                .map(|(i, p)| (no_std_x0 + i as f64 * CELL, *p, false)),
        )
        .collect();
    let width = (no_std_x0 + no_std.len() as f64 * CELL + 12.0).max(640.0);
    let rows_top = HEADER_TOP + HEADER_HEIGHT;
    let mean_top = rows_top + plot.workloads.len() as f64 * ROW + 6.0;
    let legend_top = mean_top + ROW + 22.0;
    let height = legend_top + 44.0;

    let mut s = String::new();
    writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="{FONT}">"#
    )
    .unwrap();
    writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#).unwrap();
    writeln!(
        s,
        r#"<text x="12" y="22" font-size="15" font-weight="bold">Where DLMalloc stands: peer time ÷ DLMalloc time, per workload</text>"#
    )
    .unwrap();
    writeln!(
        s,
        r#"<text x="12" y="40">Above 1 (blue) DLMalloc is faster, below 1 (red) the peer is. Framed: the fastest hosted and no_std peer of each row.</text>"#
    )
    .unwrap();
    writeln!(
        s,
        r##"<text x="12" y="56" fill="#555">Median of {} rounds, all through GlobalAlloc in one process; realloc rows churn with resizes. Tables: bench/results/results.md</text>"##,
        plot.rounds
    )
    .unwrap();

    // Group headings over their columns, with a rule under each.
    for (x0, n, title) in [
        (hosted_x0, hosted.len(), "hosted: need an OS"),
        (no_std_x0, no_std.len(), "no_std: also run without one"),
    ] {
        if n == 0 {
            continue;
        }
        let x1 = x0 + n as f64 * CELL - 1.0;
        writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{title}</text><line x1="{x0:.1}" y1="{y:.1}" x2="{x1:.1}" y2="{y:.1}" stroke="#111"/>"##,
            (x0 + x1) / 2.0,
            HEADER_TOP + 8.0,
            y = HEADER_TOP + 13.0,
        )
        .unwrap();
    }
    column_name(&mut s, ours_x, "DLMalloc ns/step", true);
    for &(x, peer, _) in &columns {
        column_name(&mut s, x, display_name(peer), false);
    }

    for (row, w) in plot.workloads.iter().enumerate() {
        let y = rows_top + row as f64 * ROW;
        let ty = y + ROW / 2.0 + FONT * 0.35;
        if row % 2 == 1 {
            writeln!(
                s,
                r##"<rect x="4" y="{y:.1}" width="{:.1}" height="{:.1}" fill="#f2f2f2"/>"##,
                ours_x - 4.0,
                ROW - 1.0
            )
            .unwrap();
        }
        writeln!(
            s,
            r#"<text x="{LABEL_RIGHT}" y="{ty:.1}" text-anchor="end">{}</text>"#,
            escape(&label(w))
        )
        .unwrap();
        if let Some(ns) = plot.ours_ns.get(w) {
            writeln!(
                s,
                r##"<rect x="{ours_x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="#fff3bf"/><text x="{:.1}" y="{ty:.1}" text-anchor="middle" font-weight="bold">{}</text>"##,
                CELL - 1.0,
                ROW - 1.0,
                ours_x + CELL / 2.0,
                fmt_ns(*ns)
            )
            .unwrap();
        }
        for &(x, peer, _) in &columns {
            let tip = format!("{} / {w}", display_name(peer));
            ratio_cell(&mut s, x, y, plot.ratio(w, peer), &tip);
        }
        for (group, x0) in [(&hosted, hosted_x0), (&no_std, no_std_x0)] {
            let best = group
                .iter()
                .enumerate()
                .filter_map(|(i, p)| plot.ratio(w, p).map(|r| (i, r)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((i, _)) = best {
                frame(&mut s, x0 + i as f64 * CELL, y);
            }
        }
    }

    // The geometric mean of each peer over all workloads.
    let ty = mean_top + ROW / 2.0 + FONT * 0.35;
    writeln!(
        s,
        r#"<text x="{LABEL_RIGHT}" y="{ty:.1}" text-anchor="end" font-weight="bold">geometric mean</text>"#
    )
    .unwrap();
    for &(x, peer, _) in &columns {
        ratio_cell(&mut s, x, mean_top, plot.geo_mean(peer), display_name(peer));
    }
    // The groups are sorted by this mean: their first peer is the strongest.
    for (group, x0) in [(&hosted, hosted_x0), (&no_std, no_std_x0)] {
        if group.first().and_then(|p| plot.geo_mean(p)).is_some() {
            frame(&mut s, x0, mean_top);
        }
    }

    // The colour scale.
    let steps = 13;
    let bar_x = LABEL_RIGHT + 8.0;
    let bar_w = 26.0;
    for i in 0..steps {
        let t = i as f64 / (steps - 1) as f64 * 2.0 - 1.0;
        let (fill, _) = colour((t * COLOUR_SPAN_LOG2).exp2());
        writeln!(
            s,
            r#"<rect x="{:.1}" y="{legend_top:.1}" width="{bar_w}" height="12" fill="{fill}"/>"#,
            bar_x + i as f64 * bar_w
        )
        .unwrap();
    }
    let bar_end = bar_x + steps as f64 * bar_w;
    let label_y = legend_top + 26.0;
    for (x, anchor, text) in [
        (bar_x, "start", "peer 8× faster"),
        ((bar_x + bar_end) / 2.0, "middle", "1: as fast"),
        (bar_end, "end", "DLMalloc 8× faster"),
    ] {
        writeln!(
            s,
            r#"<text x="{x:.1}" y="{label_y:.1}" text-anchor="{anchor}">{text}</text>"#
        )
        .unwrap();
    }
    writeln!(
        s,
        r#"<text x="{LABEL_RIGHT}" y="{:.1}" text-anchor="end">colour scale</text>"#,
        legend_top + 10.0
    )
    .unwrap();
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESULTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../results/");

    #[test]
    fn committed_plot_matches_committed_csv() {
        let csv = std::fs::read_to_string(format!("{RESULTS}results.csv")).unwrap();
        let svg = std::fs::read_to_string(format!("{RESULTS}results.svg")).unwrap();
        let plot = Plot::from_csv(&csv).unwrap();
        assert!(
            chart(&plot) == svg,
            "bench/results/results.svg is not the plot of results.csv; redraw it with \
             `cargo run --manifest-path bench/Cargo.toml -p bench-harness --bin plot`"
        );
    }

    #[test]
    fn reads_ratios_and_leaves_our_other_heaps_out() {
        let csv = "kind,workload,allocator,process,value,rounds,ratio_vs_dlmalloc\n\
                   time_ns_per_step,pair-16,DLMalloc,main,10.0,5,1.0\n\
                   time_ns_per_step,pair-16,Mspace,main,15.0,5,1.5\n\
                   time_ns_per_step,pair-16,System,main,20.0,5,2.0\n\
                   time_ns_per_step,pair-16,talc,main,5.0,5,0.5\n\
                   arena,arena-16m,talc,,0.97,1,\n";
        let plot = Plot::from_csv(csv).unwrap();
        assert_eq!(plot.workloads, ["pair-16"]);
        assert_eq!(plot.peers, ["System", "talc"]);
        assert_eq!(plot.ratio("pair-16", "talc"), Some(0.5));
        assert_eq!(plot.group(true), ["System"]);
        assert_eq!(plot.group(false), ["talc"]);
        let svg = chart(&plot);
        assert!(svg.contains(">glibc</text>") && svg.contains(">2.00</text>"));
        assert!(!svg.contains("Mspace"));
    }

    #[test]
    fn colours_diverge_from_white_at_one() {
        assert_eq!(colour(1.0).0, "#f7f7f7");
        assert_eq!(colour(8.0).0, "#2166ac");
        assert_eq!(colour(1.0 / 8.0).0, "#b2182b");
        assert_eq!(colour(1000.0), colour(8.0));
    }

    #[test]
    fn labels_name_sizes_and_live_counts() {
        assert_eq!(label("pair-1024"), "alloc/free pair, 1 KiB");
        assert_eq!(label("churn-1k-64k-live1k"), "churn 1-64 KiB, 1k live");
        assert_eq!(
            label("realloc-16-1k-live100k"),
            "realloc 16 B-1 KiB, 100k live"
        );
        assert_eq!(label("no-such-workload"), "no-such-workload");
    }
}
