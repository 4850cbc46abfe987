//! Seeded runs of the fuzz driver (`testing/fuzz-driver`), shared by the
//! two randomized model tests. Those are two binaries so that the five-heap
//! test's accounting of mapped bytes never sees another test's thread
//! (its thread cache, its arena trimming) end while it runs.

use dlmalloc_fuzz_driver::{Config, Outcome, run_with};
use dlmalloc_test_support::Rng;

/// The heap check on every heap, and the statistics against the live
/// blocks, every this many operations.
pub const CHECK_EVERY: usize = 50;
/// Input bytes per decoded operation, at the most.
const BYTES_PER_OP: usize = 7;

/// Runs the driver on `config` with seeded input until at least `ops`
/// operations ran; returns what the last run saw.
pub fn seeded_run(config: &Config, seed: u64, ops: usize) -> Outcome {
    let started = std::time::Instant::now();
    let data = Rng::new(seed).bytes(ops * BYTES_PER_OP);
    let outcome = run_with(config, &data);
    assert!(
        outcome.operations >= ops,
        "only {} operations decoded",
        outcome.operations
    );
    eprintln!("{outcome:?} in {:?}", started.elapsed());
    outcome
}
