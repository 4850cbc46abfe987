//! The core's system memory goes through these hooks and comes back through
//! them: `mapped_bytes` rises when the core maps and returns to its earlier
//! level when the core releases everything it took.

use std::ffi::c_void;

use dlmalloc_platform_std::mapped_bytes;
use dlmalloc_sys::{dlfree, dlmalloc, dlmalloc_footprint, dlmalloc_trim};

/// Far above the default direct-mapping threshold.
const HUGE: usize = 8 << 20;

#[test]
fn the_core_gives_back_what_it_mapped() {
    // Set up the heap first, so later counts compare like with like.
    // SAFETY: dlmalloc has no preconditions; the block is freed once.
    unsafe { dlfree(dlmalloc(64)) };
    let base = mapped_bytes();

    // A direct mapping: mapped on allocation, unmapped on free.
    // SAFETY: as above.
    let huge = unsafe { dlmalloc(HUGE) };
    assert!(!huge.is_null());
    assert!(
        mapped_bytes() >= base + HUGE,
        "{} < {base} + {HUGE}",
        mapped_bytes()
    );
    // SAFETY: a live block, freed once.
    unsafe { dlfree(huge) };
    assert_eq!(mapped_bytes(), base, "freeing a direct mapping");

    // Many small blocks grow the heap's segments; once they are freed,
    // trimming releases the growth again.
    let blocks: Vec<*mut c_void> = (0..40_000)
        // SAFETY: dlmalloc has no preconditions.
        .map(|i| unsafe { dlmalloc(200 + i % 700) })
        .collect();
    assert!(blocks.iter().all(|b| !b.is_null()));
    let grown = mapped_bytes();
    assert!(
        grown > base + (8 << 20),
        "40 000 blocks should need over 8 MiB"
    );
    for block in blocks {
        // SAFETY: each is a live block, freed once.
        unsafe { dlfree(block) };
    }
    // SAFETY: dlmalloc_trim has no preconditions.
    unsafe { dlmalloc_trim(0) };
    let trimmed = mapped_bytes();
    assert!(
        trimmed <= base,
        "after trim: {trimmed} mapped, {base} before the blocks"
    );
    // The core's own count of system memory agrees with the hooks'.
    // SAFETY: no preconditions.
    assert_eq!(unsafe { dlmalloc_footprint() }, trimmed);
}
