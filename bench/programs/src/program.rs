//! What a program is, and the list of them.

use bench_harness::workloads::Scale;

/// A real program: an input built before the clock starts, then the timed
/// work on it.
pub trait Workload {
    /// What the work reads; it stays live (on the allocator under test)
    /// while the work runs, as a real program's input would.
    type Input: Sync;

    /// Builds the input, sized by `scale`. Not timed.
    fn prepare(scale: Scale) -> Self::Input;

    /// A short description of the input (its size), the same for every
    /// allocator.
    fn describe(input: &Self::Input) -> String;

    /// The timed work, spread over the current rayon pool. It verifies its
    /// result, panicking on a wrong one, and returns its check value.
    fn run(input: &Self::Input) -> u64;
}

/// The programs, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    /// [`crate::syntax::SynParse`].
    SynParse,
    /// [`crate::json::SerdeJson`].
    SerdeJson,
    /// [`crate::deflate::Deflate`].
    Deflate,
}

impl Program {
    /// Every program.
    pub const ALL: [Program; 3] = [Program::SynParse, Program::SerdeJson, Program::Deflate];

    /// Its name in the report and on the child's command line.
    pub fn name(self) -> &'static str {
        match self {
            Program::SynParse => "syn-parse",
            Program::SerdeJson => "serde-json",
            Program::Deflate => "deflate",
        }
    }

    /// What it does, for the report.
    pub fn what(self) -> &'static str {
        match self {
            Program::SynParse => {
                "`syn::parse_file` on every Rust file of a corpus, then a `syn::visit` walk \
                 over each tree"
            }
            Program::SerdeJson => {
                "`serde_json` round trip of a document of derived structs: serialize, \
                 parse back typed and as a `Value`, compare both with the original"
            }
            Program::Deflate => {
                "gzip (`flate2`, pure-Rust miniz_oxide backend, level 6) of generated \
                 text in chunks, then gunzip, compare the bytes"
            }
        }
    }

    /// What its check value counts, for the report.
    pub fn check(self) -> &'static str {
        match self {
            Program::SynParse => "items + expressions in the files that parsed",
            Program::SerdeJson => "bytes of JSON text",
            Program::Deflate => "bytes of gzip output",
        }
    }

    /// The program named `name`.
    pub fn from_name(name: &str) -> Option<Program> {
        Program::ALL.into_iter().find(|p| p.name() == name)
    }
}
