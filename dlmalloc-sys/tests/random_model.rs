//! The randomized model tests: seeded runs of the fuzz driver
//! (`testing/fuzz-driver`), which decodes bytes into allocator operations
//! (malloc, calloc, memalign, posix_memalign, valloc, free, realloc,
//! realloc_in_place, independent_comalloc and _calloc, bulk_free, trim,
//! mallopt, footprint limits, statistics) and checks every result against
//! a model: alignment, usable size, calloc zeroing, non-overlap of live
//! blocks, realloc(p, 0) freeing, no refusal without a limit or an absurd
//! size, and every block's pattern before it is freed or resized. With
//! thousands of live blocks at once and every byte patterned, the heap
//! walker on every heap and mallinfo and inspect_all against the live
//! blocks every 50 operations: here on the global heap alone, through
//! `DLMalloc`, for at least 100 000 operations; `random_model_heaps.rs`
//! runs five heaps at once.

use dlmalloc_platform_std as _;

use dlmalloc_fuzz_driver::{Config, HeapKind};
use dlmalloc_sys::dlmalloc_trim;
use dlmalloc_test_support::{assert_heap_ok, serial};

mod seeded;
use seeded::{CHECK_EVERY, seeded_run};

/// At least this many operations on the global heap alone.
const GLOBAL_OPS: usize = 100_000;

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
