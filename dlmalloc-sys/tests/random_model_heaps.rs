//! The randomized model test on five heaps used at once: two locked
//! mspaces, an unlocked one, an unlocked one in a 4 MiB buffer that must
//! grow past it, and the global heap. Each block is always freed into its
//! own heap; the driver (`testing/fuzz-driver`) checks every result against
//! its model, walks every heap and compares the statistics with the live
//! blocks every 50 operations. At the end the mspaces hold no block, are
//! destroyed and give back all they mapped.
//!
//! A binary of its own: the count of mapped bytes below is process-wide,
//! and another test's thread ending meanwhile (giving its thread cache back
//! to an arena that then trims) once moved it in CI.

use dlmalloc_platform_std as _;
use dlmalloc_platform_std::mapped_bytes;

use dlmalloc_fuzz_driver::{Config, HeapKind};
use dlmalloc_sys::{dlmalloc_footprint, dlmalloc_trim};

mod seeded;
use seeded::{CHECK_EVERY, seeded_run};

const MIB: usize = 1 << 20;

/// At least this many operations; a fifth under `debug-heap-walk`, where
/// every operation also walks the whole heap.
const OPS: usize = if cfg!(feature = "debug-heap-walk") {
    20_000
} else {
    100_000
};

#[test]
fn random_operations_on_five_heaps() {
    // The global heap keeps what it maps; count mapped bytes beside it.
    // SAFETY: reads a statistic.
    let level = || mapped_bytes() - unsafe { dlmalloc_footprint() };
    // Trim the global heap to its least now, as the trim at the end will,
    // so that the level compares like with like.
    // SAFETY: trimming has no preconditions.
    unsafe { dlmalloc_trim(0) };
    let start = level();
    let config = Config {
        heaps: vec![
            HeapKind::Global,
            HeapKind::Mspace {
                capacity: 0,
                locked: true,
            },
            HeapKind::Mspace {
                capacity: 8 * MIB,
                locked: true,
            },
            HeapKind::Mspace {
                capacity: 0,
                locked: false,
            },
            HeapKind::InBuffer {
                size: 4 * MIB,
                locked: false,
                grows: true,
            },
        ],
        max_live: 2500,
        full_patterns: true,
        check_every: CHECK_EVERY,
        // DLMalloc's arenas map their address space once and keep it, which
        // the accounting below would count as a leak.
        through_dlmalloc: false,
    };
    let outcome = seeded_run(&config, 0x4D5_FACE, OPS);
    assert!(
        outcome.grew[4],
        "the buffer heap never grew past its buffer"
    );
    // SAFETY: trimming has no preconditions.
    unsafe { dlmalloc_trim(0) };
    assert_eq!(
        level(),
        start,
        "mapped bytes (beside the global heap's footprint) after destroying the mspaces"
    );
}
