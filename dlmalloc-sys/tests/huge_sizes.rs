//! Sizes near `usize::MAX`, overflowing `calloc` products and bad alignments
//! fail cleanly: null from the allocating routines, `ENOMEM`/`EINVAL` from
//! `dlposix_memalign`, never a wrapped-around small block, and the heap
//! stays sound.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

mod common;

use core::ffi::c_void;
use core::ptr::null_mut;

use common::page_size;
use dlmalloc_sys::*;
use dlmalloc_test_support::{assert_heap_ok, assert_pattern, fill};

/// Sizes no heap can satisfy on the address space this code runs on.
///
/// The core refuses every request at or above `MAX_REQUEST` (half the
/// address space: `usize::MAX / 2`, which is `isize::MAX`) at once, so those
/// fail everywhere. Sizes below it fail only for want of address space: true
/// on 64-bit, not on 32-bit, where `isize::MAX - 4096` (2 GiB less a page)
/// can really be allocated.
fn huge_sizes() -> Vec<usize> {
    let page = page_size();
    let mut sizes = vec![
        usize::MAX,
        usize::MAX - 1,
        usize::MAX - 7,
        usize::MAX - 15,
        usize::MAX - 31,
        usize::MAX - 63,
        usize::MAX - 4095,
        usize::MAX - 4096,
        usize::MAX - page,
        usize::MAX - 2 * 1024 * 1024,
        usize::MAX / 2 + 1,
        usize::MAX / 2,
        isize::MAX as usize,
    ];
    if cfg!(target_pointer_width = "64") {
        // Below MAX_REQUEST, so refused only because no address space holds
        // it; a 32-bit process can get this much.
        sizes.push(isize::MAX as usize - 4096);
        // Far beyond any real address space, yet small enough that naive
        // rounding arithmetic does not overflow.
        sizes.push(1 << 62);
        sizes.push((1 << 62) + 1);
    }
    sizes
}

#[test]
fn malloc_of_a_huge_size_returns_null() {
    for size in huge_sizes() {
        let p = unsafe { dlmalloc(size) };
        assert!(p.is_null(), "dlmalloc({size:#x}) returned {p:?}");
    }
    assert_heap_ok("after huge dlmalloc");
}

#[test]
fn calloc_of_a_huge_size_returns_null() {
    for size in huge_sizes() {
        for (count, elem) in [(1, size), (size, 1)] {
            let p = unsafe { dlcalloc(count, elem) };
            assert!(
                p.is_null(),
                "dlcalloc({count:#x}, {elem:#x}) returned {p:?}"
            );
        }
    }
    assert_heap_ok("after huge dlcalloc");
}

#[test]
fn calloc_with_an_overflowing_product_returns_null() {
    let half = usize::MAX / 2 + 1;
    let mut cases = vec![
        (half, 2),
        (2, half),
        (usize::MAX, usize::MAX),
        (usize::MAX, 2),
        (3, usize::MAX / 3 + 1),
        // The product wraps to a small number: 2^(bits-1) * 4 == 0 mod 2^bits.
        (half, 4),
    ];
    if usize::BITS == 64 {
        cases.push((1 << 33, 1 << 33)); // 2^66 wraps to 0
        cases.push(((1 << 32) + 1, (1 << 32) + 1)); // wraps to 2^33 + 1
        cases.push((1 << 40, 1 << 30)); // 2^70 wraps to 0
    } else {
        cases.push((1 << 16, 1 << 16)); // 2^32 wraps to 0
        cases.push(((1 << 16) + 1, (1 << 16) + 1)); // wraps to 2^17 + 1
    }
    for (count, elem) in cases {
        assert!(
            count.checked_mul(elem).is_none(),
            "bad test case {count:#x} * {elem:#x}"
        );
        let p = unsafe { dlcalloc(count, elem) };
        assert!(
            p.is_null(),
            "dlcalloc({count:#x}, {elem:#x}) overflows but returned {p:?}"
        );
    }
    assert_heap_ok("after overflowing dlcalloc");
}

#[test]
fn realloc_to_a_huge_size_returns_null_and_keeps_the_block() {
    // Small, medium and (past any plausible mmap threshold) large blocks.
    for (old, seed) in [(40usize, 1u64), (3000, 2), (2 * 1024 * 1024, 3)] {
        let p = unsafe { dlmalloc(old) };
        assert!(!p.is_null());
        let usable = unsafe { dlmalloc_usable_size(p) };
        unsafe { fill(p.cast(), 0, old, seed) };
        for size in huge_sizes() {
            let q = unsafe { dlrealloc(p, size) };
            assert!(
                q.is_null(),
                "dlrealloc({old}-byte block, {size:#x}) returned {q:?}"
            );
            unsafe { assert_pattern(p.cast(), 0, old, seed, "block after a failed dlrealloc") };
            assert_eq!(
                unsafe { dlmalloc_usable_size(p) },
                usable,
                "failed dlrealloc({size:#x}) changed the usable size of the old block"
            );
        }
        // The old block is still a valid live block: it can be resized and freed.
        let q = unsafe { dlrealloc(p, old * 2) };
        assert!(!q.is_null());
        unsafe {
            assert_pattern(
                q.cast(),
                0,
                old,
                seed,
                "block grown after a failed dlrealloc",
            )
        };
        unsafe { dlfree(q) };
    }
    assert_heap_ok("after huge dlrealloc");
}

#[test]
fn realloc_in_place_to_a_huge_size_returns_null_and_keeps_the_block() {
    for (old, seed) in [(40usize, 11u64), (3000, 12), (2 * 1024 * 1024, 13)] {
        let p = unsafe { dlmalloc(old) };
        assert!(!p.is_null());
        let usable = unsafe { dlmalloc_usable_size(p) };
        unsafe { fill(p.cast(), 0, old, seed) };
        for size in huge_sizes() {
            let q = unsafe { dlrealloc_in_place(p, size) };
            assert!(
                q.is_null(),
                "dlrealloc_in_place({old}-byte block, {size:#x}) returned {q:?}"
            );
            unsafe {
                assert_pattern(
                    p.cast(),
                    0,
                    old,
                    seed,
                    "block after a failed in-place resize",
                )
            };
            assert_eq!(unsafe { dlmalloc_usable_size(p) }, usable);
        }
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after huge dlrealloc_in_place");
}

#[test]
fn memalign_valloc_pvalloc_of_a_huge_size_return_null() {
    let page = page_size();
    for size in huge_sizes() {
        for align in [0usize, 1, 8, 16, 32, 64, 4096, page, 1 << 20] {
            let p = unsafe { dlmemalign(align, size) };
            assert!(p.is_null(), "dlmemalign({align}, {size:#x}) returned {p:?}");
        }
        let p = unsafe { dlvalloc(size) };
        assert!(p.is_null(), "dlvalloc({size:#x}) returned {p:?}");
        let p = unsafe { dlpvalloc(size) };
        assert!(p.is_null(), "dlpvalloc({size:#x}) returned {p:?}");
    }
    assert_heap_ok("after huge memalign/valloc/pvalloc");
}

#[test]
fn memalign_with_a_huge_alignment_returns_null() {
    // No address space can honour these; rounding a non-power of two up
    // must not wrap to a small alignment either.
    for align in [
        usize::MAX,
        usize::MAX / 2 + 1,
        usize::MAX / 2 + 2,
        isize::MAX as usize,
    ] {
        for size in [1usize, 64, 4096] {
            let p = unsafe { dlmemalign(align, size) };
            assert!(p.is_null(), "dlmemalign({align:#x}, {size}) returned {p:?}");
        }
    }
    assert_heap_ok("after dlmemalign with huge alignments");
}

/// A recognisable value `dlposix_memalign` must leave alone on failure.
const UNTOUCHED: *mut c_void = 0x5a5a_0ff0_usize as *mut c_void;

#[test]
fn posix_memalign_reports_enomem_for_a_huge_size() {
    for size in huge_sizes() {
        for align in [size_of::<*mut c_void>(), 16, 64, 4096, 1 << 20] {
            let mut out = UNTOUCHED;
            let rc = unsafe { dlposix_memalign(&mut out, align, size) };
            assert_eq!(
                rc, ENOMEM,
                "dlposix_memalign(align {align}, size {size:#x})"
            );
            assert_eq!(out, UNTOUCHED, "dlposix_memalign wrote *pp on failure");
        }
    }
    // A valid (power-of-two) alignment no address space can honour.
    let mut out = UNTOUCHED;
    let rc = unsafe { dlposix_memalign(&mut out, usize::MAX / 2 + 1, 16) };
    assert_eq!(
        rc,
        ENOMEM,
        "dlposix_memalign(align 2^{}, 16)",
        usize::BITS - 1
    );
    assert_eq!(out, UNTOUCHED, "dlposix_memalign wrote *pp on failure");
    assert_heap_ok("after huge dlposix_memalign");
}

#[test]
fn posix_memalign_reports_einval_for_a_bad_alignment() {
    let word = size_of::<*mut c_void>();
    let mut bad = vec![
        0usize,
        1,
        3,
        5,
        24,
        48,
        96,
        word / 2,
        word + 1,
        word * 3,
        4097,
    ];
    bad.extend([usize::MAX, usize::MAX / 2 + 2, isize::MAX as usize]);
    if word > 4 {
        bad.push(4);
    }
    for align in bad {
        for size in [1usize, 100] {
            let mut out = UNTOUCHED;
            let rc = unsafe { dlposix_memalign(&mut out, align, size) };
            assert_eq!(
                rc, EINVAL,
                "dlposix_memalign(align {align:#x}, size {size})"
            );
            assert_eq!(out, UNTOUCHED, "dlposix_memalign wrote *pp on failure");
        }
    }
    assert_heap_ok("after dlposix_memalign with bad alignments");
}

#[test]
fn posix_memalign_succeeds_for_the_smallest_valid_alignment() {
    let word = size_of::<*mut c_void>();
    let mut out = null_mut();
    let rc = unsafe { dlposix_memalign(&mut out, word, 10) };
    assert_eq!(rc, 0);
    assert!(!out.is_null());
    assert_eq!(out as usize % word, 0);
    unsafe { dlfree(out) };
}
