//! `dlmalloc_usable_size`: at least the requested size, every usable byte is
//! really the caller's (writing all of them harms no neighbour), not absurdly
//! more than requested for small blocks, and 0 for null.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

use core::ffi::c_void;

use dlmalloc_sys::*;
use dlmalloc_test_support::{assert_heap_ok, assert_pattern, fill, serial};

/// Allocates every size, checks `usable >= size`, fills every usable byte
/// with a per-block pattern while all blocks are live, then verifies them
/// all (a usable size that reaches into a neighbour shows up as a corrupted
/// pattern or a heap-check violation) and frees them.
fn exercise(sizes: &[usize], max_slack: Option<usize>) {
    let mut blocks: Vec<(*mut c_void, usize, usize)> = Vec::with_capacity(sizes.len());
    for &size in sizes {
        let p = unsafe { dlmalloc(size) };
        assert!(!p.is_null(), "dlmalloc({size}) returned null");
        let usable = unsafe { dlmalloc_usable_size(p) };
        assert!(
            usable >= size,
            "dlmalloc({size}): usable size {usable} is too small"
        );
        if let Some(slack) = max_slack {
            assert!(
                usable <= size + slack,
                "dlmalloc({size}): usable size {usable} wastes more than {slack} bytes"
            );
        }
        unsafe { fill(p.cast(), 0, usable, size as u64 + 1) };
        blocks.push((p, size, usable));
    }
    for &(p, size, usable) in &blocks {
        unsafe { assert_pattern(p.cast(), 0, usable, size as u64 + 1, "usable bytes") };
        assert_eq!(
            unsafe { dlmalloc_usable_size(p) },
            usable,
            "usable size changed"
        );
    }
    assert_heap_ok("after writing every usable byte");
    for (p, _, _) in blocks {
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after freeing");
}

#[test]
fn every_size_up_to_4096() {
    let _serial = serial();
    // A chunk rounds the request plus its overhead up to the alignment, with
    // a minimum chunk of four words; a split leaves at most a minimum chunk
    // behind. Anything beyond that bound would be waste.
    let slack = 4 * MALLOC_ALIGNMENT;
    let sizes: Vec<usize> = (0..=4096).collect();
    exercise(&sizes, Some(slack));
}

#[test]
fn every_size_up_to_4096_in_reverse() {
    let _serial = serial();
    // Larger blocks first, so the smaller ones come from split remainders.
    let sizes: Vec<usize> = (0..=4096).rev().collect();
    exercise(&sizes, Some(4 * MALLOC_ALIGNMENT));
}

#[test]
fn medium_and_large_sizes() {
    let _serial = serial();
    // The last four are past the default mmap threshold: directly mapped
    // unless free heap memory can hold them.
    let sizes = [
        4097,
        8191,
        65_536,
        65_537,
        200_000,
        262_143,
        262_144,
        262_145,
        1 << 20,
        (1 << 20) + 1,
        5 << 20,
        (5 << 20) - 3,
    ];
    exercise(&sizes, None);
}

#[test]
fn usable_size_of_null_is_zero() {
    assert_eq!(unsafe { dlmalloc_usable_size(core::ptr::null()) }, 0);
}

#[test]
fn usable_size_of_aligned_and_zeroed_blocks() {
    let _serial = serial();
    for (align, size) in [(64usize, 10usize), (4096, 5000), (1 << 16, 100)] {
        let p = unsafe { dlmemalign(align, size) };
        assert!(!p.is_null());
        let usable = unsafe { dlmalloc_usable_size(p) };
        assert!(
            usable >= size,
            "dlmemalign({align}, {size}): usable size {usable}"
        );
        unsafe { fill(p.cast(), 0, usable, 99) };
        unsafe { assert_pattern(p.cast(), 0, usable, 99, "aligned block") };
        unsafe { dlfree(p) };
    }
    for (count, size) in [(1usize, 1usize), (10, 100), (3, 4000)] {
        let p = unsafe { dlcalloc(count, size) };
        assert!(!p.is_null());
        let usable = unsafe { dlmalloc_usable_size(p) };
        assert!(
            usable >= count * size,
            "dlcalloc({count}, {size}): usable size {usable}"
        );
        unsafe { fill(p.cast(), 0, usable, 98) };
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after aligned and zeroed blocks");
}

/// `usable_size_unmapped` reads the header the way the core does: the same
/// figure as `dlmalloc_usable_size` for every block in a segment, and
/// `None` for a block with a mapping of its own.
#[test]
fn header_read_matches_the_core() {
    // One test at a time: another test's freed blocks could leave a free
    // chunk big enough for the 4 MiB request below, which would then not
    // get a mapping of its own (this failed once under Wine).
    let _serial = serial();
    unsafe { dlmalloc_init() };
    for size in (1..=40_000).step_by(37) {
        let p = unsafe { dlmalloc(size) };
        assert!(!p.is_null());
        assert_eq!(
            unsafe { usable_size_unmapped(p) },
            Some(unsafe { dlmalloc_usable_size(p) }),
            "dlmalloc({size})"
        );
        unsafe { dlfree(p) };
    }
    // Far above the mmap threshold: a block with its own mapping.
    let mapped = unsafe { dlmalloc(4 << 20) };
    assert!(!mapped.is_null());
    assert_eq!(unsafe { usable_size_unmapped(mapped) }, None);
    unsafe { dlfree(mapped) };
}
