//! `dlmallinfo` agrees with itself and with the footprint functions:
//! `arena + hblkhd == footprint`, `uordblks + fordblks == footprint`,
//! `usmblks == max footprint`, allocations move `uordblks` by at least their
//! size and frees move it back exactly, and `hblks`/`hblkhd` count directly
//! mapped chunks. One test: the statistics are global.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

use core::ffi::c_void;

use dlmalloc_sys::*;
use dlmalloc_test_support::{Heap, Rng, assert_heap_ok, fill};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// Reads mallinfo and checks the relations that hold at every moment.
#[track_caller]
fn consistent(context: &str) -> MallInfo {
    let mi = Heap::GLOBAL.assert_mallinfo_exact(context);
    assert!(
        mi.ordblks >= 1,
        "{context}: no free chunk, not even top, in {mi:?}"
    );
    mi
}

#[test]
fn mallinfo_is_consistent() {
    // Fixed thresholds, whatever the defaults are.
    assert_eq!(unsafe { dlmallopt(M_MMAP_THRESHOLD, 256 * KIB as i32) }, 1);
    // Grow the heap up front to hold the 100 blocks below (about 100 KiB,
    // more than the first segment), then free it all back to top. Were the
    // heap to grow while they are live, a new segment not mapped right next
    // to the old one (as often happens on 32-bit) would keep its record, an
    // in-use chunk, and the frees could not bring `uordblks` back exactly.
    unsafe { dlfree(dlmalloc(200 * KIB)) };
    let start = consistent("at start");

    // ---- heap blocks raise uordblks by at least their size ----------------
    let mut blocks: Vec<*mut c_void> = Vec::new();
    let mut requested = 0;
    for i in 0..100 {
        let size = KIB + i;
        let p = unsafe { dlmalloc(size) };
        assert!(!p.is_null());
        unsafe { fill(p.cast(), 0, size, i as u64) };
        blocks.push(p);
        requested += size;
    }
    let mid = consistent("with 100 small blocks");
    assert!(
        mid.uordblks >= start.uordblks + requested,
        "uordblks rose by {} for {requested} bytes of blocks",
        mid.uordblks - start.uordblks
    );
    assert_eq!(
        mid.hblks, start.hblks,
        "1 KiB blocks must not be directly mapped"
    );
    assert!(mid.usmblks >= start.usmblks);
    for p in blocks.drain(..) {
        unsafe { dlfree(p) };
    }
    let end = consistent("after freeing the small blocks");
    assert_eq!(
        end.uordblks, start.uordblks,
        "freeing did not give back every byte"
    );
    assert_heap_ok("after small blocks");

    // ---- directly mapped chunks ---------------------------------------------
    // The core maps a request past the threshold only when no free chunk or
    // top can serve it, so trim first: top is then too small for it.
    unsafe { dlmalloc_trim(0) };
    let before = consistent("before mapped blocks");
    let a = unsafe { dlmalloc(4 * MIB) };
    let b = unsafe { dlmalloc(3 * MIB + 5) };
    assert!(!a.is_null() && !b.is_null());
    let two = consistent("with two mapped blocks");
    assert_eq!(
        two.hblks,
        before.hblks + 2,
        "two mapped blocks, hblks {:?}",
        two
    );
    assert!(two.hblkhd >= before.hblkhd + 7 * MIB + 5);
    assert_eq!(two.arena, before.arena, "mapped blocks changed arena");
    assert!(two.uordblks >= before.uordblks + 7 * MIB + 5);
    // The maximum footprint covers the new footprint and never goes down.
    let before_fp = before.arena + before.hblkhd;
    assert!(two.usmblks >= (before_fp + 7 * MIB).max(before.usmblks));
    unsafe { dlfree(a) };
    let one = consistent("with one mapped block");
    assert_eq!(one.hblks, before.hblks + 1);
    assert!(one.hblkhd >= before.hblkhd + 3 * MIB + 5);
    assert!(one.hblkhd + 4 * MIB <= two.hblkhd);
    assert_eq!(one.usmblks, two.usmblks, "the maximum footprint went down");
    unsafe { dlfree(b) };
    let none = consistent("after freeing the mapped blocks");
    assert_eq!(none.hblks, before.hblks);
    assert_eq!(none.hblkhd, before.hblkhd);
    assert_eq!(none.uordblks, before.uordblks);

    // ---- a random mix keeps the relations ---------------------------------------
    let mut rng = Rng::new(0x3A11);
    let mut live: Vec<(*mut c_void, usize)> = Vec::new();
    for step in 0..3000 {
        if live.is_empty() || rng.chance(55) {
            let size = match rng.below(100) {
                0..=79 => rng.range(1, 512),
                80..=97 => rng.range(513, 64 * KIB),
                _ => rng.range(256 * KIB, 2 * MIB),
            };
            let p = unsafe { dlmalloc(size) };
            assert!(!p.is_null());
            live.push((p, size));
        } else {
            let (p, _) = live.swap_remove(rng.below(live.len()));
            unsafe { dlfree(p) };
        }
        if step % 100 == 0 {
            let mi = consistent(&format!("random mix, step {step}"));
            let requested: usize = live.iter().map(|&(_, size)| size).sum();
            assert!(
                mi.uordblks >= requested,
                "uordblks {} < {requested} live",
                mi.uordblks
            );
        }
    }
    for (p, _) in live {
        unsafe { dlfree(p) };
    }
    consistent("after the random mix");
    unsafe { dlmalloc_trim(0) };
    consistent("after trim");
    assert_heap_ok("at the end");
}
