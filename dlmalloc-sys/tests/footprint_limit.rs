//! `dlmalloc_set_footprint_limit`: the limit is rounded up to pages, the
//! footprint never exceeds it, allocations that would need more system
//! memory than it allows return null, and raising or removing it makes
//! allocation work again. One test: the limit and footprint are global.

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
use dlmalloc_test_support::{assert_heap_ok, fill};

const MIB: usize = 1 << 20;
/// Below any plausible mmap threshold: served from heap segments.
const BLOCK: usize = 64 * 1024;

fn footprint() -> usize {
    unsafe { dlmalloc_footprint() }
}

fn limit() -> usize {
    unsafe { dlmalloc_footprint_limit() }
}

#[track_caller]
fn assert_within(limit: usize, context: &str) {
    let fp = footprint();
    assert!(
        fp <= limit,
        "{context}: footprint {fp} exceeds the limit {limit}"
    );
}

/// Allocates `BLOCK`-sized blocks until one fails (at most `max`), checking
/// the footprint after every call. Returns the blocks.
fn allocate_until_refused(limit: usize, max: usize) -> (Vec<*mut c_void>, bool) {
    let mut blocks = Vec::new();
    for _ in 0..max {
        let p = unsafe { dlmalloc(BLOCK) };
        assert_within(limit, "while allocating up to the limit");
        if p.is_null() {
            return (blocks, true);
        }
        unsafe { fill(p.cast(), 0, BLOCK, blocks.len() as u64) };
        blocks.push(p);
    }
    (blocks, false)
}

#[test]
fn footprint_limit() {
    let page = page_size();
    // Initialise the heap.
    unsafe { dlfree(dlmalloc(1)) };
    assert_eq!(limit(), usize::MAX, "a fresh heap must have no limit");

    // ---- the limit is rounded up to pages and reported back --------------
    for request in [1usize, page - 1, page, page + 1, 10 * page + 3] {
        let set = unsafe { dlmalloc_set_footprint_limit(request) };
        assert_eq!(
            set,
            round_up(request, page),
            "set_footprint_limit({request})"
        );
        assert_eq!(limit(), set);
    }
    assert_eq!(
        unsafe { dlmalloc_set_footprint_limit(0) },
        usize::MAX,
        "0 removes the limit"
    );
    assert_eq!(limit(), usize::MAX);
    assert_eq!(
        unsafe { dlmalloc_set_footprint_limit(usize::MAX) },
        usize::MAX
    );
    assert_eq!(limit(), usize::MAX);
    // Near usize::MAX, rounding up must not wrap to a tiny limit.
    let near_max = unsafe { dlmalloc_set_footprint_limit(usize::MAX - 1) };
    assert!(
        near_max == usize::MAX || near_max >= usize::MAX - page,
        "set_footprint_limit(usize::MAX - 1) wrapped to {near_max}"
    );
    unsafe { dlmalloc_set_footprint_limit(0) };

    // ---- allocation stops at the limit ------------------------------------
    let base = footprint();
    let lim = unsafe { dlmalloc_set_footprint_limit(base + 8 * MIB + 123) };
    assert_eq!(lim, round_up(base + 8 * MIB + 123, page));
    let (blocks, refused) = allocate_until_refused(lim, 4096);
    assert!(
        refused,
        "4096 blocks of 64 KiB (256 MiB) all fit under a limit of {lim}"
    );
    let got = blocks.len() * BLOCK;
    assert!(
        got >= 4 * MIB,
        "only {got} bytes could be allocated with 8 MiB of headroom under the limit"
    );
    assert_within(lim, "after the first refusal");

    // Every other way to need more memory is refused too, without
    // exceeding the limit, and the limit stays in force.
    let mut probe = null_mut();
    assert!(
        unsafe { dlmalloc(16 * MIB) }.is_null(),
        "large malloc past the limit"
    );
    assert!(
        unsafe { dlcalloc(1, 16 * MIB) }.is_null(),
        "calloc past the limit"
    );
    assert!(
        unsafe { dlmemalign(4096, 16 * MIB) }.is_null(),
        "memalign past the limit"
    );
    assert_eq!(
        unsafe { dlposix_memalign(&mut probe, 64, 16 * MIB) },
        ENOMEM
    );
    assert!(probe.is_null());
    let grown = unsafe { dlrealloc(blocks[0], 16 * MIB) };
    assert!(grown.is_null(), "realloc past the limit");
    unsafe {
        dlmalloc_test_support::assert_pattern(
            blocks[0].cast(),
            0,
            BLOCK,
            0,
            "block after a refused realloc",
        )
    };
    assert_within(lim, "after refused large requests");
    assert_eq!(limit(), lim);
    assert_heap_ok("at the footprint limit");

    // ---- raising the limit lets allocation continue -------------------------
    let raised = unsafe { dlmalloc_set_footprint_limit(footprint() + 6 * MIB) };
    let (more, refused) = allocate_until_refused(raised, 4096);
    assert!(refused, "the raised limit was not enforced either");
    assert!(
        more.len() * BLOCK >= 2 * MIB,
        "raising the limit by 6 MiB allowed only {} more bytes",
        more.len() * BLOCK
    );
    assert_within(raised, "after the raised limit");

    // ---- a limit below the current footprint -------------------------------
    let tiny = unsafe { dlmalloc_set_footprint_limit(page) };
    assert_eq!(tiny, page);
    let big = unsafe { dlmalloc(16 * MIB) };
    assert!(
        big.is_null(),
        "a 16 MiB request succeeded under a one-page limit"
    );
    assert!(
        footprint() > tiny,
        "test premise: the footprint is above the new limit"
    );

    // ---- removing the limit --------------------------------------------------
    assert_eq!(unsafe { dlmalloc_set_footprint_limit(0) }, usize::MAX);
    assert_eq!(limit(), usize::MAX);
    let big = unsafe { dlmalloc(16 * MIB) };
    assert!(
        !big.is_null(),
        "a 16 MiB request failed after removing the limit"
    );
    let extra = unsafe { dlmalloc(BLOCK) };
    assert!(
        !extra.is_null(),
        "a 64 KiB request failed after removing the limit"
    );
    unsafe { fill(big.cast(), 0, 16 * MIB, 5) };
    unsafe { dlfree(big) };
    unsafe { dlfree(extra) };
    for (i, &p) in blocks.iter().enumerate() {
        unsafe {
            dlmalloc_test_support::assert_pattern(
                p.cast(),
                0,
                BLOCK,
                i as u64,
                "block under the limit",
            )
        };
    }
    for p in blocks.into_iter().chain(more) {
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after removing the limit");

    // usize::MAX removes it too.
    unsafe { dlmalloc_set_footprint_limit(footprint() + MIB) };
    assert_eq!(
        unsafe { dlmalloc_set_footprint_limit(usize::MAX) },
        usize::MAX
    );
    assert_eq!(limit(), usize::MAX);
    let big = unsafe { dlmalloc(16 * MIB) };
    assert!(
        !big.is_null(),
        "a 16 MiB request failed after setting the limit to usize::MAX"
    );
    unsafe { dlfree(big) };
    assert_heap_ok("at the end");
}
