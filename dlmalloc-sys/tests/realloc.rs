//! `dlrealloc`: null and zero sizes, contents preserved when growing,
//! shrinking and moving, growth in place into a freed neighbour, and large
//! blocks past the mmap threshold. The tests share one lock: two of them
//! arrange neighbouring chunks, which a concurrent test could otherwise take.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

mod common;

use core::ffi::c_void;
use core::ptr::null_mut;

use common::directly_follows;
use dlmalloc_sys::*;
use dlmalloc_test_support::{assert_heap_ok, assert_pattern, fill, serial};

/// Resizes `p` (holding the pattern for `seed` over `old` bytes) to `new`
/// bytes, checks the preserved prefix, and fills the rest of the new size.
fn resize(p: *mut c_void, old: usize, new: usize, seed: u64) -> *mut c_void {
    let q = unsafe { dlrealloc(p, new) };
    assert!(!q.is_null(), "dlrealloc({old} -> {new}) returned null");
    assert_eq!(
        q as usize % MALLOC_ALIGNMENT,
        0,
        "dlrealloc returned misaligned {q:?}"
    );
    let usable = unsafe { dlmalloc_usable_size(q) };
    assert!(
        usable >= new,
        "dlrealloc({old} -> {new}): usable size {usable}"
    );
    let kept = old.min(new);
    unsafe {
        assert_pattern(
            q.cast(),
            0,
            kept,
            seed,
            &format!("dlrealloc({old} -> {new})"),
        )
    };
    unsafe { fill(q.cast(), kept, new, seed) };
    q
}

/// Allocates two blocks of the given sizes such that the second directly
/// follows the first: `dlindependent_comalloc` carves them side by side, and
/// each is an ordinary block afterwards. The third value (always empty) is
/// kept so callers read the same as when blocks had to be set aside.
fn adjacent_pair(a_size: usize, b_size: usize) -> (*mut c_void, *mut c_void, Vec<*mut c_void>) {
    let sizes = [a_size, b_size];
    let mut blocks = [null_mut::<c_void>(); 2];
    let array = unsafe { dlindependent_comalloc(2, sizes.as_ptr(), blocks.as_mut_ptr()) };
    assert!(
        !array.is_null(),
        "dlindependent_comalloc({a_size}, {b_size}) failed"
    );
    let (a, b) = (blocks[0], blocks[1]);
    assert!(
        unsafe { directly_follows(a, b) },
        "comalloc blocks are not adjacent"
    );
    (a, b, Vec::new())
}

#[test]
fn realloc_of_null_and_to_zero() {
    let _serial = serial();
    let p = unsafe { dlrealloc(null_mut(), 100) };
    assert!(!p.is_null(), "dlrealloc(null, 100) returned null");
    unsafe { fill(p.cast(), 0, 100, 1) };
    let q = unsafe { dlrealloc(p, 0) };
    assert!(q.is_null(), "dlrealloc(p, 0) returned {q:?}, expected null");
    assert_heap_ok("after dlrealloc(p, 0)");
}

#[test]
fn repeated_growth_keeps_the_contents() {
    let _serial = serial();
    let seed = 0x6807;
    let mut size = 1usize;
    let p = unsafe { dlmalloc(size) };
    assert!(!p.is_null());
    unsafe { fill(p.cast(), 0, size, seed) };
    let mut p = p;
    // Through small bins, large bins, and past the mmap threshold.
    while size < (3 << 20) {
        let new = size + size / 2 + 7;
        p = resize(p, size, new, seed);
        size = new;
    }
    unsafe { assert_pattern(p.cast(), 0, size, seed, "grown block") };
    unsafe { dlfree(p) };
    assert_heap_ok("after repeated growth");
}

#[test]
fn repeated_shrinking_keeps_the_prefix() {
    let _serial = serial();
    let seed = 0x5412;
    let mut size = 3 << 20;
    let p = unsafe { dlmalloc(size) };
    assert!(!p.is_null());
    unsafe { fill(p.cast(), 0, size, seed) };
    let mut p = p;
    while size > 1 {
        let new = size / 3;
        p = resize(p, size, new, seed);
        size = new;
    }
    unsafe { dlfree(p) };
    assert_heap_ok("after repeated shrinking");
}

#[test]
fn growth_into_a_freed_neighbour_happens_in_place() {
    let _serial = serial();
    for (a_size, b_size) in [(256usize, 1024usize), (40, 200), (5000, 20_000)] {
        let (a, b, aside) = adjacent_pair(a_size, b_size);
        // A guard after B keeps B's space from merging into top, so the
        // in-place path under test is "next chunk free", not "next is top".
        let guard = unsafe { dlmalloc(64) };
        assert!(!guard.is_null());
        let b_usable = unsafe { dlmalloc_usable_size(b) };
        unsafe { fill(a.cast(), 0, a_size, 21) };
        unsafe { dlfree(b) };
        let new = a_size + b_usable / 2;
        let q = unsafe { dlrealloc(a, new) };
        assert_eq!(
            q, a,
            "dlrealloc({a_size} -> {new}) moved the block although the {b_size}-byte \
             neighbour right after it was free"
        );
        assert!(unsafe { dlmalloc_usable_size(q) } >= new);
        unsafe { assert_pattern(q.cast(), 0, a_size, 21, "block grown in place") };
        unsafe { fill(q.cast(), a_size, new, 21) };
        assert_heap_ok("after growing in place");
        unsafe { dlfree(q) };
        unsafe { dlfree(guard) };
        for p in aside {
            unsafe { dlfree(p) };
        }
    }
    assert_heap_ok("after growth in place");
}

#[test]
fn growth_blocked_by_a_live_neighbour_moves_with_the_contents() {
    let _serial = serial();
    for (a_size, b_size) in [(256usize, 64usize), (3000, 100), (100_000, 64)] {
        let (a, b, aside) = adjacent_pair(a_size, b_size);
        unsafe { fill(a.cast(), 0, a_size, 31) };
        unsafe { fill(b.cast(), 0, b_size, 32) };
        let new = a_size * 4;
        let q = unsafe { dlrealloc(a, new) };
        assert!(!q.is_null());
        assert_ne!(q, a, "dlrealloc grew a block into its live neighbour");
        unsafe { assert_pattern(q.cast(), 0, a_size, 31, "moved block") };
        unsafe { fill(q.cast(), a_size, new, 31) };
        unsafe { assert_pattern(b.cast(), 0, b_size, 32, "neighbour of the moved block") };
        assert_heap_ok("after a moving realloc");
        unsafe { dlfree(q) };
        unsafe { dlfree(b) };
        for p in aside {
            unsafe { dlfree(p) };
        }
    }
    assert_heap_ok("after moving reallocs");
}

#[test]
fn shrinking_in_the_heap_does_not_move() {
    let _serial = serial();
    for (old, new) in [
        (1000usize, 10usize),
        (4096, 2048),
        (60_000, 100),
        (60_000, 59_000),
    ] {
        let p = unsafe { dlmalloc(old) };
        assert!(!p.is_null());
        unsafe { fill(p.cast(), 0, old, 41) };
        let q = unsafe { dlrealloc(p, new) };
        assert_eq!(
            q, p,
            "dlrealloc({old} -> {new}) moved a block it only had to shrink"
        );
        unsafe { assert_pattern(q.cast(), 0, new, 41, "shrunk block") };
        unsafe { dlfree(q) };
    }
    assert_heap_ok("after shrinking");
}

#[test]
fn large_blocks_grow_and_shrink_with_their_contents() {
    let _serial = serial();
    let seed = 0x1A76E;
    let steps = [
        1usize << 20,
        5 << 20,
        3 << 20,
        (3 << 20) + 12_345,
        200 << 10,
        16,
        2 << 20,
    ];
    let mut size = 100;
    let mut p = unsafe { dlmalloc(size) };
    assert!(!p.is_null());
    unsafe { fill(p.cast(), 0, size, seed) };
    for new in steps {
        p = resize(p, size, new, seed);
        size = new;
        assert_heap_ok("between large reallocs");
    }
    unsafe { dlfree(p) };
    assert_heap_ok("after large reallocs");
}

#[test]
fn random_resizes_of_many_blocks() {
    let _serial = serial();
    let mut rng = dlmalloc_test_support::Rng::new(0x00E5_012E);
    let mut blocks: Vec<(*mut c_void, usize, u64)> = (0..200)
        .map(|i| {
            let size = rng.range(1, 2000);
            let p = unsafe { dlmalloc(size) };
            assert!(!p.is_null());
            unsafe { fill(p.cast(), 0, size, i) };
            (p, size, i)
        })
        .collect();
    for _ in 0..5000 {
        let i = rng.below(blocks.len());
        let (p, size, seed) = blocks[i];
        let new = if rng.chance(10) {
            rng.range(2000, 300_000)
        } else {
            rng.range(1, 3000)
        };
        blocks[i] = (resize(p, size, new, seed), new, seed);
    }
    for &(p, size, seed) in &blocks {
        unsafe { assert_pattern(p.cast(), 0, size, seed, "randomly resized block") };
    }
    assert_heap_ok("after random resizes");
    for (p, _, _) in blocks {
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after freeing randomly resized blocks");
}
