//! `dlrealloc_in_place` never moves a block: it returns the same pointer or
//! null, and after null the block is unchanged and still valid. Shrinking a
//! heap block always succeeds; growing into a freed neighbour succeeds;
//! growing into a live neighbour fails. The tests share one lock: they
//! arrange neighbouring chunks, which a concurrent test could otherwise take.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

mod common;

use core::ffi::c_void;

use common::directly_follows;
use dlmalloc_sys::*;
use dlmalloc_test_support::{Rng, assert_heap_ok, assert_pattern, fill, serial};

/// Tries to resize `p` (holding the pattern for `seed` over `size` bytes)
/// to `new` bytes in place. Returns the block's size afterwards.
fn try_resize(p: *mut c_void, size: usize, new: usize, seed: u64) -> usize {
    let usable_before = unsafe { dlmalloc_usable_size(p) };
    let q = unsafe { dlrealloc_in_place(p, new) };
    if q.is_null() {
        let what = format!("block after a refused in-place resize {size} -> {new}");
        unsafe { assert_pattern(p.cast(), 0, size, seed, &what) };
        assert_eq!(
            unsafe { dlmalloc_usable_size(p) },
            usable_before,
            "a refused in-place resize {size} -> {new} changed the usable size"
        );
        size
    } else {
        assert_eq!(q, p, "dlrealloc_in_place({size} -> {new}) moved the block");
        let usable = unsafe { dlmalloc_usable_size(p) };
        assert!(
            usable >= new,
            "in-place resize {size} -> {new}: usable size {usable}"
        );
        let kept = size.min(new);
        let what = format!("block after an in-place resize {size} -> {new}");
        unsafe { assert_pattern(p.cast(), 0, kept, seed, &what) };
        unsafe { fill(p.cast(), kept, new, seed) };
        new
    }
}

fn adjacent_pair(a_size: usize, b_size: usize) -> (*mut c_void, *mut c_void, Vec<*mut c_void>) {
    let mut aside = Vec::new();
    for _ in 0..64 {
        let a = unsafe { dlmalloc(a_size) };
        let b = unsafe { dlmalloc(b_size) };
        assert!(!a.is_null() && !b.is_null());
        if unsafe { directly_follows(a, b) } {
            return (a, b, aside);
        }
        aside.push(a);
        aside.push(b);
    }
    panic!("64 consecutive dlmalloc({a_size}) / dlmalloc({b_size}) pairs were never adjacent");
}

#[test]
fn shrinking_a_heap_block_always_succeeds() {
    let _serial = serial();
    for old in [64usize, 255, 256, 1000, 4096, 65_536] {
        let mut size = old;
        let p = unsafe { dlmalloc(size) };
        assert!(!p.is_null());
        unsafe { fill(p.cast(), 0, size, old as u64) };
        // Largest first, so that every step really shrinks the block: in
        // the listed order `old / 7` can be below 17 (64 / 7 = 9), and
        // 9 -> 17 would be a grow, which may or may not fit in the chunk.
        let mut steps = vec![old - 1, old / 2, old / 7, 17, 1, 0];
        steps.sort_unstable_by(|a, b| b.cmp(a));
        steps.dedup();
        for new in steps {
            assert!(new <= size, "bad test step {size} -> {new}: not a shrink");
            let q = unsafe { dlrealloc_in_place(p, new) };
            assert_eq!(
                q, p,
                "dlrealloc_in_place({size} -> {new}) did not shrink in place"
            );
            // Only the bytes the block held before and still holds now.
            let kept = size.min(new);
            unsafe { assert_pattern(p.cast(), 0, kept, old as u64, "block shrunk in place") };
            size = new;
        }
        assert_eq!(size, 0);
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after in-place shrinking");
}

#[test]
fn growing_into_a_freed_neighbour_succeeds() {
    let _serial = serial();
    for (a_size, b_size) in [
        (100usize, 200usize),
        (1000, 5000),
        (24, 24),
        (20_000, 40_000),
    ] {
        let (a, b, aside) = adjacent_pair(a_size, b_size);
        let guard = unsafe { dlmalloc(32) };
        assert!(!guard.is_null());
        unsafe { fill(a.cast(), 0, a_size, 5) };
        let b_usable = unsafe { dlmalloc_usable_size(b) };
        unsafe { dlfree(b) };
        // Everything B had, minus nothing: A's chunk can absorb all of B.
        let new = unsafe { dlmalloc_usable_size(a) } + b_usable;
        let q = unsafe { dlrealloc_in_place(a, new) };
        assert_eq!(
            q, a,
            "dlrealloc_in_place({a_size} -> {new}) failed although the {b_size}-byte \
             neighbour right after it was free"
        );
        unsafe { assert_pattern(a.cast(), 0, a_size, 5, "block grown in place") };
        unsafe { fill(a.cast(), a_size, new, 5) };
        unsafe { assert_pattern(a.cast(), 0, new, 5, "block grown in place") };
        assert_heap_ok("after growing in place");
        unsafe { dlfree(a) };
        unsafe { dlfree(guard) };
        for p in aside {
            unsafe { dlfree(p) };
        }
    }
    assert_heap_ok("after in-place growth");
}

#[test]
fn growing_into_a_live_neighbour_fails_and_keeps_the_block() {
    let _serial = serial();
    for (a_size, b_size) in [(100usize, 200usize), (1000, 64), (20_000, 100)] {
        let (a, b, aside) = adjacent_pair(a_size, b_size);
        unsafe { fill(a.cast(), 0, a_size, 6) };
        unsafe { fill(b.cast(), 0, b_size, 7) };
        let new = unsafe { dlmalloc_usable_size(a) } + 1;
        let q = unsafe { dlrealloc_in_place(a, new) };
        assert!(
            q.is_null(),
            "dlrealloc_in_place grew a block into its live neighbour"
        );
        unsafe { assert_pattern(a.cast(), 0, a_size, 6, "block after a refused resize") };
        unsafe { assert_pattern(b.cast(), 0, b_size, 7, "its live neighbour") };
        // Still a valid live block: a moving realloc takes it.
        let moved = unsafe { dlrealloc(a, new) };
        assert!(!moved.is_null());
        unsafe { assert_pattern(moved.cast(), 0, a_size, 6, "block moved after the refusal") };
        unsafe { dlfree(moved) };
        unsafe { dlfree(b) };
        for p in aside {
            unsafe { dlfree(p) };
        }
    }
    assert_heap_ok("after refused in-place growth");
}

#[test]
fn random_in_place_resizes_never_move() {
    let _serial = serial();
    let mut rng = Rng::new(0x0001_0CA7);
    let mut blocks: Vec<(*mut c_void, usize, u64)> = (0..300)
        .map(|i| {
            let size = rng.range(1, 3000);
            let p = unsafe { dlmalloc(size) };
            assert!(!p.is_null());
            unsafe { fill(p.cast(), 0, size, i) };
            (p, size, i)
        })
        .collect();
    // Free a third so some neighbours are free, some live.
    for i in (0..blocks.len()).rev().step_by(3) {
        let (p, size, seed) = blocks.swap_remove(i);
        unsafe { assert_pattern(p.cast(), 0, size, seed, "block before free") };
        unsafe { dlfree(p) };
    }
    let mut grew = 0;
    for _ in 0..10_000 {
        let i = rng.below(blocks.len());
        let (p, size, seed) = blocks[i];
        let new = match rng.below(4) {
            0 => rng.range(0, size),
            1 => size + rng.range(1, 64),
            2 => size + rng.range(1, 4000),
            _ => rng.range(0, 6000),
        };
        let after = try_resize(p, size, new, seed);
        assert!(
            new > size || after == new,
            "in-place shrink {size} -> {new} was refused"
        );
        if after > size {
            grew += 1;
        }
        blocks[i].1 = after;
    }
    assert!(
        grew > 0,
        "10000 random in-place resizes never managed to grow a block"
    );
    for &(p, size, seed) in &blocks {
        unsafe { assert_pattern(p.cast(), 0, size, seed, "block after in-place resizes") };
    }
    assert_heap_ok("after random in-place resizes");
    for (p, _, _) in blocks {
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after freeing");
}

#[test]
fn large_blocks_resize_in_place_or_stay_unchanged() {
    let _serial = serial();
    // Directly mapped blocks may or may not resize without moving; either
    // way the pointer must not change and the contents must survive.
    let mut size = 4 << 20;
    let p = unsafe { dlmalloc(size) };
    assert!(!p.is_null());
    unsafe { fill(p.cast(), 0, size, 77) };
    for new in [
        (4 << 20) - 100,
        3 << 20,
        8 << 20,
        1 << 20,
        100,
        (4 << 20) + 5,
    ] {
        size = try_resize(p, size, new, 77);
    }
    unsafe { assert_pattern(p.cast(), 0, size, 77, "large block") };
    unsafe { dlfree(p) };
    assert_heap_ok("after large in-place resizes");
}
