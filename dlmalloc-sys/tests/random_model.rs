//! The randomized model tests: seeded runs of the fuzz driver
//! (`testing/fuzz-driver`), which decodes bytes into allocator operations
//! (malloc, calloc, memalign, posix_memalign, valloc, free, realloc,
//! realloc_in_place, independent_comalloc and _calloc, bulk_free, trim,
//! mallopt, footprint limits, statistics) and checks every result against
//! a model: alignment, usable size, calloc zeroing, non-overlap of live
//! blocks, realloc(p, 0) freeing, no refusal without a limit or an absurd
//! size, and every block's pattern before it is freed or resized. Here with
//! thousands of live blocks at once and every byte patterned, the heap
//! walker on every heap and mallinfo and inspect_all against the live
//! blocks every 50 operations: on the global heap alone for at least
//! 100 000 operations, and on five heaps used at once (two locked mspaces,
//! an unlocked one, an unlocked one in a 4 MiB buffer that must grow past
//! it), each block always freed into its own heap, after which the mspaces
//! hold no block, are destroyed and give back all they mapped.

use dlmalloc_platform_std as _;
use dlmalloc_platform_std::mapped_bytes;

use dlmalloc_fuzz_driver::{Config, HeapKind, run_with};
use dlmalloc_sys::{dlmalloc_footprint, dlmalloc_trim};
use dlmalloc_test_support::{Rng, assert_heap_ok, serial};

const MIB: usize = 1 << 20;

/// At least this many operations on the global heap alone.
const GLOBAL_OPS: usize = 100_000;
/// At least this many operations on five heaps; a fifth under
/// `debug-heap-walk`, where every operation also walks the whole heap.
const FIVE_HEAP_OPS: usize = if cfg!(feature = "debug-heap-walk") {
    20_000
} else {
    100_000
};
/// The heap check on every heap, and the statistics against the live
/// blocks, every this many operations.
const CHECK_EVERY: usize = 50;
/// Input bytes per decoded operation, at the most.
const BYTES_PER_OP: usize = 7;

/// Runs the driver on `config` with seeded input until at least `ops`
/// operations ran; returns what the last run saw.
fn seeded_run(config: &Config, seed: u64, ops: usize) -> dlmalloc_fuzz_driver::Outcome {
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

#[test]
fn random_operations_against_a_model() {
    // Runs change process-wide settings and restore them at the end.
    let _serial = serial();
    let config = Config {
        heaps: vec![HeapKind::Global],
        max_live: 2000,
        full_patterns: true,
        check_every: CHECK_EVERY,
        through_dlmalloc: true,
    };
    seeded_run(&config, 0x5EED_F00D_D1A7, GLOBAL_OPS);
    // SAFETY: trimming has no preconditions.
    unsafe { dlmalloc_trim(0) };
    assert_heap_ok("after the final trim");
}

#[test]
fn random_operations_on_five_heaps() {
    let _serial = serial();
    // The global heap keeps what it maps; count mapped bytes beside it.
    // SAFETY: reads a statistic.
    let level = || mapped_bytes() - unsafe { dlmalloc_footprint() };
    // The footprint includes DLMalloc's arenas (used by the other test),
    // whose reservation is mapped whole: give the thread caches back (the
    // run's statistics operations would do it later) and trim the arenas to
    // their least now, as the trim at the end will, so that the level
    // compares like with like.
    dlmalloc::DLMalloc.flush_thread_caches();
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
    let outcome = seeded_run(&config, 0x4D5_FACE, FIVE_HEAP_OPS);
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
