//! The plot: a grouped horizontal bar chart, one group per timed workload
//! and one bar per allocator, each bar running from 1 (the reference) to
//! the allocator's time ratio on a log scale. Written as plain SVG text,
//! so the benchmark needs no plotting library.

use std::fmt::Write as _;

use crate::report::Results;

/// Distinct colours, one per allocator column (cycled if there are more).
const PALETTE: &[&str] = &[
    "#d62728", "#ff7f0e", "#bcbd22", "#7f7f7f", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#393b79", "#637939", "#8c6d31", "#000000", "#7b4173",
];

const BAR: f64 = 7.0;
const GROUP_GAP: f64 = 14.0;
const LEFT: f64 = 190.0;
const PLOT_WIDTH: f64 = 640.0;
const TOP: f64 = 60.0;

/// Escapes text for SVG.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SVG document.
pub fn chart(r: &Results) -> String {
    let ratios: Vec<f64> = r
        .workloads
        .iter()
        .flat_map(|w| {
            r.columns
                .iter()
                .filter_map(move |c| r.ratio_vs_reference(c, w))
        })
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    let lo = ratios.iter().copied().fold(1.0, f64::min).max(1e-3);
    let hi = ratios.iter().copied().fold(1.0, f64::max).min(1e4);
    // Whole powers of ten around the data keep the ticks readable.
    let lo_exp = lo.log10().floor();
    let hi_exp = hi.log10().ceil().max(lo_exp + 1.0);
    let x = |ratio: f64| LEFT + (ratio.log10() - lo_exp) / (hi_exp - lo_exp) * PLOT_WIDTH;
    let group_height = r.columns.len() as f64 * BAR + GROUP_GAP;
    let legend_rows = r.columns.len().div_ceil(5) as f64;
    let legend_top = TOP + r.workloads.len() as f64 * group_height + 30.0;
    let height = legend_top + legend_rows * 18.0 + 20.0;
    let width = LEFT + PLOT_WIDTH + 40.0;

    let mut s = String::new();
    writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    )
    .unwrap();
    writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#).unwrap();
    writeln!(
        s,
        r#"<text x="{}" y="22" font-size="15" text-anchor="middle">Time per step relative to glibc System (log scale; left of 1 is faster)</text>"#,
        width / 2.0
    )
    .unwrap();
    // Ticks: 1, 2 and 5 times each power of ten.
    let mut exp = lo_exp;
    while exp <= hi_exp {
        for m in [1.0, 2.0, 5.0] {
            let t = m * 10f64.powf(exp);
            if t.log10() > hi_exp + 1e-9 {
                break;
            }
            let tx = x(t);
            let bottom = legend_top - 20.0;
            let stroke = if (t - 1.0).abs() < 1e-9 {
                "#000"
            } else {
                "#ddd"
            };
            writeln!(
                s,
                r#"<line x1="{tx:.1}" y1="{}" x2="{tx:.1}" y2="{bottom}" stroke="{stroke}"/>"#,
                TOP - 8.0,
            )
            .unwrap();
            // Over many decades only the powers of ten get a label, or
            // the labels run into each other.
            if m == 1.0 || hi_exp - lo_exp <= 4.0 {
                writeln!(
                    s,
                    r#"<text x="{tx:.1}" y="{}" text-anchor="middle">{t}</text>"#,
                    TOP - 12.0
                )
                .unwrap();
            }
        }
        exp += 1.0;
    }
    for (g, w) in r.workloads.iter().enumerate() {
        let gy = TOP + g as f64 * group_height;
        writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            gy + group_height / 2.0,
            escape(w)
        )
        .unwrap();
        for (i, c) in r.columns.iter().enumerate() {
            let Some(ratio) = r.ratio_vs_reference(c, w) else {
                continue;
            };
            let ratio = ratio.clamp(10f64.powf(lo_exp), 10f64.powf(hi_exp));
            let (a, b) = (x(1.0), x(ratio));
            let y = gy + i as f64 * BAR;
            writeln!(
                s,
                r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} / {}: {ratio:.3}</title></rect>"#,
                a.min(b),
                (a - b).abs().max(1.0),
                BAR - 1.0,
                PALETTE[i % PALETTE.len()],
                escape(&c.name),
                escape(w)
            )
            .unwrap();
        }
    }
    for (i, c) in r.columns.iter().enumerate() {
        let lx = LEFT + (i % 5) as f64 * 130.0;
        let ly = legend_top + (i / 5) as f64 * 18.0;
        writeln!(
            s,
            r#"<rect x="{lx}" y="{}" width="12" height="10" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            ly - 9.0,
            PALETTE[i % PALETTE.len()],
            lx + 16.0,
            ly,
            escape(&c.name)
        )
        .unwrap();
    }
    s.push_str("</svg>\n");
    s
}
