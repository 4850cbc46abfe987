//! Zero sizes: `dlmalloc(0)` and `dlcalloc(0, n)` return unique freeable
//! blocks, `dlrealloc(p, 0)` frees `p` and returns null, and
//! `dlrealloc(null, n)` allocates. The tests share one lock because one of
//! them compares exact heap statistics.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

use core::ffi::c_void;
use core::ptr::null_mut;

use dlmalloc_sys::*;
use dlmalloc_test_support::{assert_heap_ok, assert_pattern, fill, serial};

/// Asserts that the blocks are distinct and that their usable ranges do not
/// overlap, then fills and re-checks every usable byte.
fn assert_distinct_and_usable(blocks: &[*mut c_void], what: &str) {
    let mut ranges: Vec<(usize, usize)> = blocks
        .iter()
        .map(|&p| {
            assert!(!p.is_null(), "{what} returned null");
            assert_eq!(
                p as usize % MALLOC_ALIGNMENT,
                0,
                "{what} returned misaligned {p:?}"
            );
            let usable = unsafe { dlmalloc_usable_size(p) };
            (p as usize, p as usize + usable.max(1))
        })
        .collect();
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "{what}: blocks {:#x}..{:#x} and {:#x}.. overlap",
            pair[0].0,
            pair[0].1,
            pair[1].0
        );
    }
    for (i, &p) in blocks.iter().enumerate() {
        let usable = unsafe { dlmalloc_usable_size(p) };
        unsafe { fill(p.cast(), 0, usable, i as u64) };
    }
    for (i, &p) in blocks.iter().enumerate() {
        let usable = unsafe { dlmalloc_usable_size(p) };
        unsafe { assert_pattern(p.cast(), 0, usable, i as u64, what) };
    }
}

#[test]
fn malloc_zero_returns_unique_freeable_blocks() {
    let _serial = serial();
    let blocks: Vec<*mut c_void> = (0..64).map(|_| unsafe { dlmalloc(0) }).collect();
    assert_distinct_and_usable(&blocks, "dlmalloc(0)");
    for p in blocks {
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after freeing dlmalloc(0) blocks");
}

#[test]
fn calloc_with_a_zero_factor_returns_unique_freeable_blocks() {
    let _serial = serial();
    let mut blocks = Vec::new();
    for n in [0usize, 1, 7, 1000] {
        blocks.push(unsafe { dlcalloc(0, n) });
        blocks.push(unsafe { dlcalloc(n, 0) });
    }
    assert_distinct_and_usable(&blocks, "dlcalloc(0, n)/dlcalloc(n, 0)");
    for p in blocks {
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after freeing zero-size calloc blocks");
}

#[test]
fn free_null_is_a_no_op() {
    let _serial = serial();
    unsafe { dlfree(null_mut()) };
    assert_eq!(unsafe { dlmalloc_usable_size(core::ptr::null()) }, 0);
    assert_heap_ok("after dlfree(null)");
}

#[test]
fn realloc_to_zero_frees_and_returns_null() {
    let _serial = serial();
    // Warm the heap up so the statistics below compare like with like.
    unsafe { dlfree(dlmalloc(1)) };
    // A trim before each reading releases wholly free segments, whose
    // record chunks would otherwise count as bytes in use.
    let in_use = || unsafe {
        dlmalloc_trim(0);
        dlmallinfo().uordblks
    };
    for size in [1usize, 100, 5000, 100_000] {
        let before = in_use();
        let p = unsafe { dlmalloc(size) };
        assert!(!p.is_null());
        unsafe { fill(p.cast(), 0, size, 7) };
        assert!(unsafe { dlmallinfo() }.uordblks >= before + size);
        let q = unsafe { dlrealloc(p, 0) };
        assert!(q.is_null(), "dlrealloc(p, 0) returned {q:?}, expected null");
        let after = in_use();
        assert_eq!(
            after, before,
            "dlrealloc(p, 0) of a {size}-byte block did not give its bytes back \
             (uordblks {before} before the malloc, {after} after the realloc)"
        );
        assert_heap_ok("after dlrealloc(p, 0)");
    }
}

#[test]
fn realloc_of_null_allocates() {
    let _serial = serial();
    for size in [0usize, 1, 24, 4096, 300_000] {
        let p = unsafe { dlrealloc(null_mut(), size) };
        assert!(!p.is_null(), "dlrealloc(null, {size}) returned null");
        assert_eq!(p as usize % MALLOC_ALIGNMENT, 0);
        let usable = unsafe { dlmalloc_usable_size(p) };
        assert!(
            usable >= size,
            "dlrealloc(null, {size}): usable size {usable}"
        );
        unsafe { fill(p.cast(), 0, usable, size as u64) };
        unsafe { assert_pattern(p.cast(), 0, usable, size as u64, "dlrealloc(null, n)") };
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after dlrealloc(null, n)");
}

#[test]
fn realloc_of_a_zero_sized_block_grows_it() {
    let _serial = serial();
    let p = unsafe { dlmalloc(0) };
    assert!(!p.is_null());
    let q = unsafe { dlrealloc(p, 200) };
    assert!(!q.is_null(), "dlrealloc(dlmalloc(0), 200) returned null");
    assert!(unsafe { dlmalloc_usable_size(q) } >= 200);
    unsafe { fill(q.cast(), 0, 200, 3) };
    unsafe { assert_pattern(q.cast(), 0, 200, 3, "grown zero-size block") };
    unsafe { dlfree(q) };
    assert_heap_ok("after growing a zero-size block");
}
