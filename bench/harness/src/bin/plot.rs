//! Redraws the benchmark's plot from a `results.csv`, without measuring:
//! for a change to the plot itself, or to check the committed one.
//!
//! ```text
//! cargo run --manifest-path bench/Cargo.toml -p bench-harness --bin plot [CSV [SVG]]
//! ```
//!
//! The defaults are the committed `bench/results/results.csv` and
//! `bench/results/results.svg`.

use bench_harness::svg;

fn main() {
    let results = concat!(env!("CARGO_MANIFEST_DIR"), "/../results");
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() > 2 || args.iter().any(|a| a.starts_with('-')) {
        eprintln!("usage: plot [RESULTS.csv [RESULTS.svg]]");
        std::process::exit(2);
    }
    let csv_path = args
        .first()
        .cloned()
        .unwrap_or(format!("{results}/results.csv"));
    let svg_path = args
        .get(1)
        .cloned()
        .unwrap_or(format!("{results}/results.svg"));
    let outcome = std::fs::read_to_string(&csv_path)
        .map_err(|e| format!("{csv_path}: {e}"))
        .and_then(|csv| svg::Plot::from_csv(&csv).map_err(|e| format!("{csv_path}: {e}")))
        .and_then(|plot| {
            std::fs::write(&svg_path, svg::chart(&plot)).map_err(|e| format!("{svg_path}: {e}"))
        });
    match outcome {
        Ok(()) => println!("plot: {svg_path} drawn from {csv_path}"),
        Err(problem) => {
            eprintln!("plot: {problem}");
            std::process::exit(1);
        }
    }
}
