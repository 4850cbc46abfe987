//! The Markdown report: one table with the time per step of every
//! allocator (median of the timed rounds, with their spread) and the ratios
//! peer time / ours, a geometric mean, and footnotes for the cells that
//! stopped early.

use std::fmt::Write as _;

use crate::workloads::Scale;
use crate::{Cell, Row};

/// A checksum for the progress lines: hex, or `-` when none was made.
pub fn checksum(sum: Option<u64>) -> String {
    sum.map_or_else(|| "-".into(), |sum| format!("{sum:016x}"))
}

/// The middle of `xs` (the mean of the two middle ones for an even count);
/// NaN when empty.
fn median(xs: &[f64]) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// About three significant digits.
fn ns(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// A cell's time: the median, and with more than one round the spread
/// (max - min) / median, as the native report shows it.
fn time(cell: &Cell) -> String {
    let mid = median(&cell.ns);
    if cell.ns.len() < 2 {
        return ns(mid);
    }
    let (min, max) = cell
        .ns
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    format!("{} ±{:.0}%", ns(mid), 100.0 * (max - min) / mid)
}

/// The report for `rows` measured on the allocators `names` (ours first),
/// under a header that says where it ran (`host`).
pub fn markdown(host: &str, scale: Scale, rounds: usize, names: &[&str], rows: &[Row]) -> String {
    let mut out = String::new();
    let peers = &names[1..];
    writeln!(out, "{host}\n").unwrap();
    if scale == Scale::Quick {
        writeln!(
            out,
            "Quick run (`--quick`): a hundredth of the steps; the times mean nothing.\n"
        )
        .unwrap();
    }
    writeln!(
        out,
        "ns per step: median of {} after a verification round, the allocators' order \
         rotating from round to round; ± is (max - min) / median. \
         Ratios are peer time / ours: **above 1 means ours is faster**.\n",
        if rounds == 1 {
            "one timed round".to_string()
        } else {
            format!("{rounds} timed rounds")
        }
    )
    .unwrap();
    let head: Vec<String> = names.iter().map(|n| format!("{n} ns/step")).collect();
    let ratios: Vec<String> = peers.iter().map(|p| format!("{p} / ours")).collect();
    writeln!(
        out,
        "| workload (step) | {} | {} |",
        head.join(" | "),
        ratios.join(" | ")
    )
    .unwrap();
    writeln!(out, "|---|{}", "---:|".repeat(names.len() + peers.len())).unwrap();
    let mut notes: Vec<String> = Vec::new();
    let mut logs = vec![Vec::new(); peers.len()];
    for row in rows {
        let mut cells = Vec::new();
        for (name, cell) in names.iter().zip(&row.cells) {
            let mut text = time(cell);
            let mut note = |what: String| {
                notes.push(format!("{name}, {}: {what}", row.name));
                write!(text, " [{}]", notes.len()).unwrap();
            };
            if let Some(steps) = cell.capped {
                note(format!(
                    "stopped at its deadline after {steps} steps; that round is the only one kept"
                ));
            }
            if cell.leaked {
                note(
                    "freeing its blocks ran out of time; the rest were verified and leaked".into(),
                );
            }
            if cell.checksum.is_none() {
                note(
                    "the verification round stopped at its deadline; its checksum is not compared"
                        .into(),
                );
            }
            cells.push(text);
        }
        let ours = median(&row.cells[0].ns);
        for (j, cell) in row.cells[1..].iter().enumerate() {
            let ratio = median(&cell.ns) / ours;
            logs[j].push(ratio.ln());
            cells.push(if ratio < 100.0 {
                format!("{ratio:.2}")
            } else {
                format!("{ratio:.0}")
            });
        }
        writeln!(
            out,
            "| {} ({}) | {} |",
            row.name,
            row.step,
            cells.join(" | ")
        )
        .unwrap();
    }
    let geo: Vec<String> = logs
        .iter()
        .map(|l| format!("**{:.2}**", (l.iter().sum::<f64>() / l.len() as f64).exp()))
        .collect();
    let blank = vec![""; names.len()];
    writeln!(
        out,
        "| geometric mean of {} rows | {} | {} |",
        rows.len(),
        blank.join(" | "),
        geo.join(" | ")
    )
    .unwrap();
    if !notes.is_empty() {
        writeln!(out).unwrap();
        for (i, note) in notes.iter().enumerate() {
            writeln!(out, "{}. {note}", i + 1).unwrap();
        }
    }
    let differing: Vec<&str> = rows
        .iter()
        .filter(|r| !r.checksums_agree())
        .map(|r| &*r.name)
        .collect();
    writeln!(out).unwrap();
    if differing.is_empty() {
        writeln!(
            out,
            "Every block was verified (a stamp in its first and last word, checked before each \
             free and realloc), and the verification round's checksums (every request and the \
             stamps of every block given back) are equal for the {} allocators in every row.",
            names.len()
        )
        .unwrap();
    } else {
        writeln!(out, "**Checksums differ** in: {}.", differing.join(", ")).unwrap();
    }
    out
}
