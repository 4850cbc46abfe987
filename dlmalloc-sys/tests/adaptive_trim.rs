//! The automatic trim adapts: a heap that must grow again after a trim gave
//! memory back doubles its own trim threshold, so a program that builds up
//! and tears down the same structure over and over stops returning (and
//! faulting in again) its memory after a few rounds; a threshold the
//! program sets with `M_TRIM_THRESHOLD` is used as it is, by every heap.
//!
//! The heap takes its pages from a source that hands them out contiguously
//! (as the thread cache's arenas do), so the heap is one segment whose top
//! grows and shrinks, and the test counts what the heap gives back.
//! Its own test binary: `M_TRIM_THRESHOLD` is process-wide, and another
//! test setting it would turn the adaptation off for this one.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API; a SAFETY line on each would repeat that.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

use core::alloc::Layout;
use core::cell::Cell;
use core::ffi::{c_int, c_void};

use dlmalloc_sys::*;
use dlmalloc_test_support::assert_mspace_ok;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// Below the mmap threshold, so every block lives in the heap's segment.
const BLOCK: usize = 64 * KIB;
/// What each round builds: more than 8 MiB, so the default threshold (2
/// MiB) must double three times, to 16 MiB, before the heap keeps it.
const ROUND: usize = 12 * MIB;
/// The address space the page source hands out from.
const RESERVED: usize = 256 * MIB;

/// A page source over one reservation: pages go out from the low end up,
/// and a range given back must be the tail of what is out (it is only
/// counted: the reservation keeps it). The heap changes it through its
/// context pointer while the test holds a reference, hence the cells.
struct Pages {
    base: usize,
    high: Cell<usize>,
    unmapped: Cell<usize>,
}

unsafe extern "C" fn map(context: *mut c_void, length: usize) -> *mut c_void {
    let pages = unsafe { &*context.cast::<Pages>() };
    let at = pages.high.get();
    if at + length > pages.base + RESERVED {
        return core::ptr::null_mut();
    }
    pages.high.set(at + length);
    at as *mut c_void
}

unsafe extern "C" fn unmap(context: *mut c_void, base: *mut c_void, length: usize) -> c_int {
    let pages = unsafe { &*context.cast::<Pages>() };
    if base as usize + length != pages.high.get() {
        return -1; // not the tail: the heap keeps it
    }
    pages.high.set(base as usize);
    pages.unmapped.set(pages.unmapped.get() + length);
    0
}

/// Builds ROUND bytes of blocks in `msp`, frees them all, and returns the
/// bytes the heap gave back to the page source meanwhile.
fn build_and_tear_down(msp: Mspace, pages: &Pages) -> usize {
    let before = pages.unmapped.get();
    let blocks: Vec<*mut c_void> = (0..ROUND / BLOCK)
        .map(|_| {
            let p = unsafe { mspace_malloc(msp, BLOCK) };
            assert!(!p.is_null());
            p
        })
        .collect();
    for p in blocks {
        unsafe { mspace_free(msp, p) };
    }
    unsafe { assert_mspace_ok(msp, "after a teardown") };
    pages.unmapped.get() - before
}

#[test]
fn the_trim_threshold_grows_while_memory_comes_back() {
    // The test's own memory (its global allocator is the system's): pages
    // it never touches cost nothing.
    let reserved = Layout::from_size_align(RESERVED, 4096).unwrap();
    let reservation = unsafe { std::alloc::alloc(reserved) };
    assert!(!reservation.is_null());
    let pages = Box::new(Pages {
        base: reservation as usize,
        high: Cell::new(reservation as usize),
        unmapped: Cell::new(0),
    });
    let context: *const Pages = &*pages;
    let msp = unsafe {
        create_mspace_with_source(0, 1, Some(map), Some(unmap), context.cast_mut().cast())
    };
    assert!(!msp.is_null());
    let pages = &*pages;
    // Rounds 1 to 3 trim: a teardown leaves about 12 MiB of top, above the
    // thresholds 2, 4 and 8 MiB; each next round grows the heap again and
    // doubles the threshold.
    for round in 1..=3 {
        let given_back = build_and_tear_down(msp, pages);
        assert!(
            given_back >= ROUND - 2 * MIB,
            "round {round}: the teardown should trim (threshold {} MiB), gave back {given_back} bytes",
            2 << (round - 1)
        );
    }
    // Round 4 grows under a 16 MiB threshold: the heap keeps its memory,
    // and round 5 reuses it.
    for round in 4..=5 {
        let given_back = build_and_tear_down(msp, pages);
        assert_eq!(
            given_back, 0,
            "round {round}: the adapted threshold keeps the memory"
        );
    }
    // A threshold the program sets wins over the adapted one, from the
    // heap's next trim or growth on (here a trim on request), and no longer
    // adapts: every later teardown trims.
    assert_eq!(
        unsafe { mspace_mallopt(M_TRIM_THRESHOLD, (2 * MIB) as i32) },
        1
    );
    assert_eq!(unsafe { mspace_trim(msp, 0) }, 1);
    for round in 6..=7 {
        let given_back = build_and_tear_down(msp, pages);
        assert!(
            given_back >= ROUND - 2 * MIB,
            "round {round}: with M_TRIM_THRESHOLD set to 2 MiB the teardown trims: gave back {given_back} bytes"
        );
    }
    unsafe { destroy_mspace(msp) };
    unsafe { std::alloc::dealloc(reservation, reserved) };
}
