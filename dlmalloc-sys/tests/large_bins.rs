//! The large bins' fit search, at the edges the random tests rarely reach:
//! the last bin (every size past 60 MiB on 64-bit targets, past 60 KiB on
//! 32-bit ones) gives its best fit, not its newest chunk; in any other bin
//! only the newest few chunks are compared, so a bin whose newest chunks
//! are too small sends the request to a larger bin or top and keeps its
//! chunks, and a full heap still finds a fit behind them.
//! Each heap lives in a fixed region (a footprint limit at its size), so
//! every block comes from the bins or top, never from a mapping of its own.

// Every unsafe block below is a call into the raw C API with a handle and
// pointers this test got from the same API, or a write to memory it owns.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

use core::ffi::c_void;

use dlmalloc_sys::*;
use dlmalloc_test_support::assert_mspace_ok;

/// The unit block sizes are counted in. The last bin starts at 60 MiB on
/// 64-bit targets and at 60 KiB on 32-bit ones, so 4 units or more lie in it.
const UNIT: usize = if usize::BITS == 64 {
    16 << 20
} else {
    16 << 10
};

/// An unlocked heap over a zeroed buffer of `len` bytes (its pages are
/// only backed where the heap writes), which may not grow past it.
struct FixedHeap {
    _buf: Vec<u8>,
    msp: Mspace,
}

impl FixedHeap {
    fn new(len: usize) -> Self {
        let mut buf = vec![0u8; len];
        let msp = unsafe { create_mspace_with_base(buf.as_mut_ptr().cast(), len, 0) };
        assert!(!msp.is_null(), "create_mspace_with_base over {len} bytes");
        unsafe { mspace_set_footprint_limit(msp, mspace_footprint(msp)) };
        FixedHeap { _buf: buf, msp }
    }

    fn malloc(&self, bytes: usize) -> *mut c_void {
        let p = unsafe { mspace_malloc(self.msp, bytes) };
        assert!(!p.is_null(), "malloc({bytes}) in a heap with room for it");
        p
    }

    fn free(&self, p: *mut c_void) {
        unsafe { mspace_free(self.msp, p) };
    }

    fn check(&self, context: &str) {
        unsafe { assert_mspace_ok(self.msp, context) };
    }
}

impl Drop for FixedHeap {
    fn drop(&mut self) {
        unsafe { destroy_mspace(self.msp) };
    }
}

/// Three free chunks of 5, 9 and 6 units in the last bin, newest first
/// 9, 6, 5: a request of 5.5 units gets the 6 (the best fit, not the
/// newest), one of 8.5 the 9, and one of 10 comes from top.
#[test]
fn the_last_bin_gives_the_best_fit_of_its_chunks() {
    let heap = FixedHeap::new(64 * UNIT);
    let five = heap.malloc(5 * UNIT);
    let _sep1 = heap.malloc(64);
    let nine = heap.malloc(9 * UNIT);
    let _sep2 = heap.malloc(64);
    let six = heap.malloc(6 * UNIT);
    let _sep3 = heap.malloc(64);
    heap.free(five);
    heap.free(six);
    heap.free(nine);
    heap.check("three chunks in the last bin");

    let a = heap.malloc(5 * UNIT + UNIT / 2);
    assert_eq!(a, six, "5.5 units: the 6-unit chunk is the best fit");
    let b = heap.malloc(8 * UNIT + UNIT / 2);
    assert_eq!(b, nine, "8.5 units: only the 9-unit chunk fits");
    let c = heap.malloc(10 * UNIT);
    assert!(
        c as usize > six as usize,
        "10 units: no binned chunk fits, top serves it"
    );
    heap.check("after the three requests");
    let d = heap.malloc(4 * UNIT);
    assert_eq!(d, five, "4 units: the 5-unit chunk, the last one binned");
    for p in [a, b, c, d] {
        heap.free(p);
    }
    heap.check("all freed");
}

/// One bin holds 12 free chunks just below 4 KiB and a request is a little
/// larger than all of them: none of the chunks compared fits, and the block
/// comes from elsewhere; the bin keeps its chunks and serves requests of
/// their sizes afterwards (largest first: a smaller request might take a
/// larger chunk among those compared and split it, the price of a bounded
/// search).
#[test]
fn a_full_bin_without_a_fit_sends_the_request_elsewhere() {
    let heap = FixedHeap::new(4 << 20);
    let sizes: Vec<usize> = (0..12).map(|i| 3900 + 8 * i).collect();
    let mut held = Vec::new();
    let mut freed = Vec::new();
    for &size in &sizes {
        freed.push(heap.malloc(size));
        held.push(heap.malloc(32));
    }
    // What the largest of them holds (it depends on the build: footers add
    // a word to every chunk); the request below asks for one byte more.
    let largest = unsafe { mspace_usable_size(*freed.last().unwrap()) };
    for &p in &freed {
        heap.free(p);
    }
    heap.check("twelve chunks in one bin");
    let big = heap.malloc(largest + 1);
    assert!(
        !freed.contains(&big),
        "a block larger than the largest freed one fits none of them"
    );
    // The bin still serves requests of its chunks' sizes. Largest first,
    // each finds its exact fit as the bin's newest chunk, so every one of
    // them is reused and none comes from top.
    let again: Vec<*mut c_void> = sizes.iter().rev().map(|&s| heap.malloc(s)).collect();
    let mut got = again.clone();
    got.sort();
    let mut want = freed.clone();
    want.sort();
    assert_eq!(
        got, want,
        "each freed chunk serves a request of its own size"
    );
    heap.check("after taking them all back");
    for p in again.into_iter().chain(held).chain([big]) {
        heap.free(p);
    }
    heap.check("all freed");
}

/// When a heap can no longer grow, a request its bin can serve only from
/// behind the chunks the quick search compares is still served: ten
/// chunks share a bin, the nine newest too small, top is full, and the
/// oldest one fits.
#[test]
fn a_full_heap_finds_the_fit_behind_the_newest_chunks() {
    let heap = FixedHeap::new(1 << 20);
    let larger = heap.malloc(3950);
    let mut held = vec![heap.malloc(64)];
    let mut smaller = Vec::new();
    for _ in 0..9 {
        smaller.push(heap.malloc(3850));
        held.push(heap.malloc(64));
    }
    // Use up top, so that only the bins can serve what follows.
    for size in [64 << 10, 1 << 10, 64] {
        loop {
            let p = unsafe { mspace_malloc(heap.msp, size) };
            if p.is_null() {
                break;
            }
            held.push(p);
        }
    }
    heap.free(larger);
    for &p in &smaller {
        heap.free(p);
    }
    heap.check("ten chunks in one bin, the nine newest smaller, top used up");
    let p = heap.malloc(3900);
    assert_eq!(p, larger, "3900 bytes: the oldest, larger chunk fits");
    heap.check("after the request");
    for p in held.into_iter().chain([p]) {
        heap.free(p);
    }
    heap.check("all freed");
}
