//! `syn-parse`: parse a corpus of Rust source files with `syn` and walk
//! every tree, as a proc macro or a code tool does — a great many small,
//! short-lived blocks (tokens, paths, boxed expressions).
//!
//! The corpus is every `.rs` file under cargo's registry source directory
//! (`$CARGO_HOME/registry/src`, by default `~/.cargo/registry/src`), sorted
//! by path and capped at [`MAX_FILES`]. It exists wherever this benchmark
//! was built, since building it unpacks the sources of syn and the other
//! crates used here; its size depends on what else that machine built, so
//! the report states it.

use std::path::{Path, PathBuf};

use bench_harness::workloads::Scale;
use rayon::prelude::*;
use syn::visit::{self, Visit};

use crate::program::Workload;

/// The most files a full run parses (a quick run parses a tenth).
pub const MAX_FILES: usize = 2000;

/// The program.
pub struct SynParse;

/// The corpus, read into memory.
pub struct Corpus {
    files: Vec<String>,
}

/// cargo's registry source directory.
fn registry_src() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .expect("neither CARGO_HOME nor HOME is set");
    cargo_home.join("registry").join("src")
}

/// Appends every `.rs` file under `dir` to `out` (symbolic links are not
/// followed).
fn find_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("a directory entry");
        let kind = entry.file_type().expect("a file type");
        let path = entry.path();
        if kind.is_dir() {
            find_rust_files(&path, out);
        } else if kind.is_file() && path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// Counts the items and expressions of a tree.
struct NodeCount(u64);

impl<'ast> Visit<'ast> for NodeCount {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        self.0 += 1;
        visit::visit_item(self, item);
    }

    fn visit_expr(&mut self, expr: &'ast syn::Expr) {
        self.0 += 1;
        visit::visit_expr(self, expr);
    }
}

/// The items and expressions of one file; 0 when it does not parse (a
/// test fixture of invalid code, say), which every run sees alike.
fn parse_and_count(text: &str) -> u64 {
    syn::parse_file(text).map_or(0, |file| {
        let mut count = NodeCount(0);
        count.visit_file(&file);
        count.0
    })
}

impl Workload for SynParse {
    type Input = Corpus;

    fn prepare(scale: Scale) -> Corpus {
        let root = registry_src();
        let mut paths = Vec::new();
        find_rust_files(&root, &mut paths);
        paths.sort();
        let cap = match scale {
            Scale::Full => MAX_FILES,
            Scale::Quick => MAX_FILES / 10,
        };
        paths.truncate(cap);
        // A file that is not UTF-8 is no Rust source: skipped.
        let files: Vec<String> = paths
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .collect();
        assert!(
            !files.is_empty(),
            "no Rust file under {}: build the benchmark first",
            root.display()
        );
        Corpus { files }
    }

    fn describe(corpus: &Corpus) -> String {
        let bytes: usize = corpus.files.iter().map(String::len).sum();
        format!(
            "{} files, {:.1} MiB",
            corpus.files.len(),
            bytes as f64 / (1 << 20) as f64
        )
    }

    fn run(corpus: &Corpus) -> u64 {
        let nodes = corpus
            .files
            .par_iter()
            .map(|text| parse_and_count(text))
            .sum();
        assert!(nodes > 0, "syn-parse: no file of the corpus parsed");
        nodes
    }
}
