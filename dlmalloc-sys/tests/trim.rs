//! Giving memory back: `dlmalloc_trim` releases free top and free segments,
//! freeing a directly mapped block lowers the footprint at once, and
//! `dlmallopt` accepts or refuses each parameter as documented. One test:
//! the parameters and the footprint are global.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

use core::ffi::c_void;

use dlmalloc_sys::*;
use dlmalloc_test_support::{assert_heap_ok, assert_pattern, fill};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

fn footprint() -> usize {
    unsafe { dlmalloc_footprint() }
}

fn info() -> MallInfo {
    unsafe { dlmallinfo() }
}

fn mallopt(param: i32, value: i32) -> i32 {
    unsafe { dlmallopt(param, value) }
}

#[test]
fn trim_and_mallopt() {
    unsafe { dlfree(dlmalloc(1)) };

    // ---- mallopt accepts and refuses --------------------------------------
    assert_eq!(
        mallopt(M_GRANULARITY, 3),
        0,
        "granularity 3 (not a power of two) accepted"
    );
    assert_eq!(mallopt(M_GRANULARITY, 0), 0, "granularity 0 accepted");
    assert_eq!(
        mallopt(M_GRANULARITY, 3 * 4096),
        0,
        "granularity 12288 accepted"
    );
    assert_eq!(
        mallopt(M_GRANULARITY, -5),
        0,
        "negative granularity accepted"
    );
    assert_eq!(
        mallopt(M_GRANULARITY, 0x20000),
        1,
        "granularity 128 KiB refused"
    );
    assert_eq!(
        mallopt(M_GRANULARITY, 0x200000),
        1,
        "granularity 2 MiB refused"
    );
    assert_eq!(
        mallopt(M_TRIM_THRESHOLD, 4 * MIB as i32),
        1,
        "trim threshold refused"
    );
    assert_eq!(
        mallopt(M_TRIM_THRESHOLD, -1),
        1,
        "trim threshold -1 (maximum) refused"
    );
    assert_eq!(
        mallopt(M_MMAP_THRESHOLD, 256 * KIB as i32),
        1,
        "mmap threshold refused"
    );
    for unknown in [0, 1, -4, -100, 42, i32::MIN, i32::MAX] {
        assert_eq!(
            mallopt(unknown, 1),
            0,
            "unknown mallopt parameter {unknown} accepted"
        );
    }

    // ---- trim gives back free top and free segments ------------------------
    // Auto-trimming is off (threshold -1 above), so the memory stays until
    // the explicit trim.
    let hblks = info().hblks;
    let before = footprint();
    let blocks: Vec<*mut c_void> = (0..320)
        .map(|i| {
            let p = unsafe { dlmalloc(64 * KIB) };
            assert!(!p.is_null(), "64 KiB block {i} failed");
            unsafe { fill(p.cast(), 0, 64, i) };
            p
        })
        .collect();
    assert_eq!(
        info().hblks,
        hblks,
        "64 KiB blocks must come from the heap, not own mappings"
    );
    let peak = footprint();
    assert!(
        peak >= before + 20 * MIB,
        "20 MiB of blocks raised the footprint only to {peak}"
    );
    for (i, p) in blocks.into_iter().enumerate() {
        unsafe { assert_pattern(p.cast(), 0, 64, i as u64, "64 KiB block") };
        unsafe { dlfree(p) };
    }
    let after_free = footprint();
    assert_heap_ok("after freeing 20 MiB with auto-trim off");
    assert_eq!(
        unsafe { dlmalloc_trim(0) },
        1,
        "dlmalloc_trim(0) released nothing"
    );
    let trimmed = footprint();
    assert!(
        trimmed + 10 * MIB <= after_free,
        "dlmalloc_trim(0) lowered the footprint only from {after_free} to {trimmed}"
    );
    assert!(info().keepcost <= info().fordblks);
    assert_heap_ok("after dlmalloc_trim(0)");

    // Trim keeps the requested pad of top.
    let blocks: Vec<*mut c_void> = (0..64).map(|_| unsafe { dlmalloc(64 * KIB) }).collect();
    assert!(blocks.iter().all(|p| !p.is_null()));
    for p in blocks {
        unsafe { dlfree(p) };
    }
    unsafe { dlmalloc_trim(MIB) };
    assert!(
        info().keepcost >= MIB,
        "dlmalloc_trim(1 MiB) kept only {} bytes of top",
        info().keepcost
    );
    assert_heap_ok("after dlmalloc_trim(1 MiB)");

    // With a low trim threshold, frees that grow top past it give memory
    // back by themselves. Wholly free segments other than top's are only
    // released periodically, so the automatic part is only asked to release
    // something; an explicit trim then releases the rest.
    assert_eq!(mallopt(M_TRIM_THRESHOLD, 256 * KIB as i32), 1);
    let blocks: Vec<*mut c_void> = (0..160).map(|_| unsafe { dlmalloc(64 * KIB) }).collect();
    assert!(blocks.iter().all(|p| !p.is_null()));
    let grown = footprint();
    for p in blocks.into_iter().rev() {
        unsafe { dlfree(p) };
    }
    let shrunk = footprint();
    assert!(
        shrunk < grown,
        "with a 256 KiB trim threshold, freeing 10 MiB gave nothing back (footprint {grown})"
    );
    unsafe { dlmalloc_trim(0) };
    let trimmed = footprint();
    assert!(
        trimmed + 9 * MIB <= grown,
        "after freeing 10 MiB and trimming, the footprint went only from {grown} to {trimmed}"
    );
    assert_heap_ok("after automatic trimming");

    // ---- a directly mapped block goes back on free -------------------------
    // The core maps a request past the threshold only when no free chunk or
    // top can serve it, so trim first: top is then too small for it.
    unsafe { dlmalloc_trim(0) };
    let fp = footprint();
    let big = unsafe { dlmalloc(8 * MIB) };
    assert!(!big.is_null());
    unsafe { fill(big.cast(), 0, 8 * MIB, 8) };
    assert_eq!(
        info().hblks,
        hblks + 1,
        "an 8 MiB block is not directly mapped"
    );
    let with_big = footprint();
    assert!(
        with_big >= fp + 8 * MIB,
        "footprint {fp} -> {with_big} with an 8 MiB block"
    );
    unsafe { dlfree(big) };
    let without = footprint();
    assert!(
        without + 8 * MIB <= with_big,
        "freeing an 8 MiB mapped block lowered the footprint only from {with_big} to {without}"
    );
    assert_eq!(info().hblks, hblks);

    // ---- the mmap threshold decides what is directly mapped ------------------
    assert_eq!(mallopt(M_MMAP_THRESHOLD, 64 * KIB as i32), 1);
    // The core maps a request past the threshold only when no free chunk or
    // top can serve it, so trim first: top is then too small for it.
    unsafe { dlmalloc_trim(0) };
    let before = info();
    let p = unsafe { dlmalloc(100 * KIB) };
    assert!(!p.is_null());
    unsafe { fill(p.cast(), 0, 100 * KIB, 9) };
    let during = info();
    assert_eq!(
        during.hblks,
        before.hblks + 1,
        "with M_MMAP_THRESHOLD 64 KiB a 100 KiB block is not directly mapped"
    );
    assert!(
        during.hblkhd >= before.hblkhd + 100 * KIB,
        "hblkhd grew from {} to {} for a 100 KiB mapping",
        before.hblkhd,
        during.hblkhd
    );
    unsafe { dlfree(p) };
    let after = info();
    assert_eq!(after.hblks, before.hblks);
    assert_eq!(after.hblkhd, before.hblkhd);

    // -1 means "maximum": nothing is directly mapped any more.
    assert_eq!(mallopt(M_MMAP_THRESHOLD, -1), 1);
    let p = unsafe { dlmalloc(3 * MIB) };
    assert!(!p.is_null());
    assert_eq!(
        info().hblks,
        before.hblks,
        "a 3 MiB block was mapped with the threshold at max"
    );
    unsafe { dlfree(p) };

    // Restore defaults-like settings and leave a clean heap.
    assert_eq!(mallopt(M_MMAP_THRESHOLD, 256 * KIB as i32), 1);
    assert_eq!(mallopt(M_TRIM_THRESHOLD, 2 * MIB as i32), 1);
    unsafe { dlmalloc_trim(0) };
    assert_heap_ok("at the end");
}
