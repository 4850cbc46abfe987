//! Aligned allocation: every power-of-two alignment from 1 byte to 1 MiB
//! through `dlmemalign` and `dlposix_memalign`, non-powers of two rounded up,
//! and page alignment from `dlvalloc`/`dlpvalloc` (the page size comes from
//! the platform, never assumed to be 4096).

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

mod common;

use core::ffi::c_void;
use core::ptr::null_mut;

use common::{page_size, round_up};
use dlmalloc_sys::*;
use dlmalloc_test_support::{assert_heap_ok, assert_pattern, fill};

const SIZES: [usize; 4] = [1, 100, 5000, 300_000];

/// A live block: pointer, requested size, pattern seed.
struct Block {
    p: *mut c_void,
    size: usize,
    seed: u64,
    what: String,
}

/// Checks and fills a fresh block, keeping it for the overlap check.
fn accept(blocks: &mut Vec<Block>, p: *mut c_void, align: usize, size: usize, what: String) {
    assert!(!p.is_null(), "{what} returned null");
    assert_eq!(
        p as usize % align,
        0,
        "{what} returned {p:?}, not {align}-aligned"
    );
    assert_eq!(p as usize % MALLOC_ALIGNMENT, 0, "{what} returned {p:?}");
    let usable = unsafe { dlmalloc_usable_size(p) };
    assert!(usable >= size, "{what}: usable size {usable} < {size}");
    let seed = blocks.len() as u64 * 7919 + 1;
    // The whole requested size must be writable without harming the heap.
    unsafe { fill(p.cast(), 0, size, seed) };
    blocks.push(Block {
        p,
        size,
        seed,
        what,
    });
}

/// Verifies every block's pattern (so no two overlap), checks the heap,
/// frees them all and checks again.
fn verify_and_free(blocks: Vec<Block>, context: &str) {
    let mut ranges: Vec<(usize, usize)> = blocks
        .iter()
        .map(|b| (b.p as usize, b.p as usize + b.size))
        .collect();
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "{context}: live blocks overlap: {pair:x?}"
        );
    }
    for b in &blocks {
        unsafe { assert_pattern(b.p.cast(), 0, b.size, b.seed, &b.what) };
    }
    assert_heap_ok(context);
    for b in blocks {
        unsafe { dlfree(b.p) };
    }
    assert_heap_ok(context);
}

fn power_of_two_alignments() -> impl Iterator<Item = usize> {
    (0..=20).map(|shift| 1usize << shift)
}

#[test]
fn memalign_honours_every_power_of_two_alignment() {
    let mut blocks = Vec::new();
    for align in power_of_two_alignments() {
        for size in SIZES {
            let p = unsafe { dlmemalign(align, size) };
            accept(
                &mut blocks,
                p,
                align,
                size,
                format!("dlmemalign({align}, {size})"),
            );
        }
    }
    verify_and_free(blocks, "dlmemalign blocks");
}

#[test]
fn posix_memalign_honours_every_valid_power_of_two_alignment() {
    let word = size_of::<*mut c_void>();
    let mut blocks = Vec::new();
    for align in power_of_two_alignments() {
        for size in SIZES {
            let mut out = null_mut();
            let rc = unsafe { dlposix_memalign(&mut out, align, size) };
            if align < word {
                // Not a multiple of sizeof(void*): POSIX says EINVAL.
                assert_eq!(rc, EINVAL, "dlposix_memalign(align {align}, {size})");
                assert!(out.is_null(), "dlposix_memalign wrote *pp on failure");
                continue;
            }
            assert_eq!(rc, 0, "dlposix_memalign(align {align}, {size})");
            accept(
                &mut blocks,
                out,
                align,
                size,
                format!("dlposix_memalign({align}, {size})"),
            );
        }
    }
    verify_and_free(blocks, "dlposix_memalign blocks");
}

#[test]
fn memalign_rounds_other_alignments_up_to_a_power_of_two() {
    let mut blocks = Vec::new();
    for align in [
        0usize, 3, 5, 12, 24, 48, 100, 1000, 3000, 5000, 65_535, 65_537, 700_000,
    ] {
        let expected = align.max(1).next_power_of_two();
        for size in [1usize, 100, 5000] {
            let p = unsafe { dlmemalign(align, size) };
            accept(
                &mut blocks,
                p,
                expected,
                size,
                format!("dlmemalign({align}, {size})"),
            );
        }
    }
    verify_and_free(blocks, "dlmemalign blocks with rounded alignments");
}

#[test]
fn aligned_blocks_interleaved_with_frees_keep_the_heap_sound() {
    // Aligned carving splits off lead and tail chunks; freeing every other
    // block makes later requests reuse those fragments.
    let mut rng = dlmalloc_test_support::Rng::new(0x0A11_C0DE);
    let mut blocks = Vec::new();
    for round in 0..400 {
        let align = 1usize << rng.range(3, 16);
        let size = rng.range(1, 20_000);
        let p = unsafe { dlmemalign(align, size) };
        accept(
            &mut blocks,
            p,
            align,
            size,
            format!("dlmemalign({align}, {size}) round {round}"),
        );
        if round % 3 == 2 {
            let b = blocks.swap_remove(rng.below(blocks.len()));
            unsafe { assert_pattern(b.p.cast(), 0, b.size, b.seed, &b.what) };
            unsafe { dlfree(b.p) };
        }
    }
    verify_and_free(blocks, "interleaved dlmemalign blocks");
}

#[test]
fn valloc_returns_page_aligned_blocks() {
    let page = page_size();
    let mut blocks = Vec::new();
    for size in [0usize, 1, 100, page - 1, page, page + 1, 3 * page, 300_000] {
        let p = unsafe { dlvalloc(size) };
        accept(&mut blocks, p, page, size, format!("dlvalloc({size})"));
    }
    verify_and_free(blocks, "dlvalloc blocks");
}

#[test]
fn pvalloc_returns_whole_pages() {
    let page = page_size();
    let mut blocks = Vec::new();
    for size in [1usize, 100, page - 1, page, page + 1, 3 * page + 5, 300_000] {
        // Two in a row: each must own its rounded-up pages, so the second
        // cannot start inside the first one's last page.
        for _ in 0..2 {
            let p = unsafe { dlpvalloc(size) };
            let whole = round_up(size, page);
            accept(&mut blocks, p, page, whole, format!("dlpvalloc({size})"));
            let usable = unsafe { dlmalloc_usable_size(p) };
            assert!(
                usable >= whole,
                "dlpvalloc({size}): usable size {usable} is less than the {whole} bytes of \
                 whole pages"
            );
        }
    }
    verify_and_free(blocks, "dlpvalloc blocks");
}
