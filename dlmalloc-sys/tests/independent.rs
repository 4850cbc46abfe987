//! `dlindependent_calloc` and `dlindependent_comalloc`: n blocks allocated
//! next to each other in order, each usable to its size (zeroed for the
//! calloc form), each freeable on its own, the pointer array allocated when
//! the caller passes none, the caller's array returned when it passes one,
//! and n = 0 harmless.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

use core::ffi::c_void;
use core::ptr::null_mut;

use dlmalloc_sys::*;
use dlmalloc_test_support::{Rng, all_zero, assert_heap_ok, assert_pattern, fill};

/// Leaves freed, dirty memory in the heap so that zeroing is really tested.
fn dirty_the_heap() {
    let blocks: Vec<*mut c_void> = (0..64)
        .map(|i| {
            let size = 64 + i * 97;
            let p = unsafe { dlmalloc(size) };
            assert!(!p.is_null());
            unsafe { core::ptr::write_bytes(p.cast::<u8>(), 0xEE, size) };
            p
        })
        .collect();
    for p in blocks {
        unsafe { dlfree(p) };
    }
}

/// Reads the `n` pointers of an array returned by the independent routines.
fn entries(array: *mut *mut c_void, n: usize) -> Vec<*mut c_void> {
    (0..n).map(|i| unsafe { array.add(i).read() }).collect()
}

/// Checks the blocks' order, adjacency, alignment and usable sizes, then
/// fills each with its own pattern and verifies them all (no overlap).
fn check_blocks(blocks: &[*mut c_void], sizes: &[usize], what: &str) {
    for (i, (&p, &size)) in blocks.iter().zip(sizes).enumerate() {
        assert!(!p.is_null(), "{what}: block {i} is null");
        assert_eq!(
            p as usize % MALLOC_ALIGNMENT,
            0,
            "{what}: block {i} misaligned"
        );
        let usable = unsafe { dlmalloc_usable_size(p) };
        assert!(
            usable >= size,
            "{what}: block {i} of {size} bytes has usable size {usable}"
        );
        if let Some(&next) = blocks.get(i + 1) {
            let gap = (next as usize).wrapping_sub(p as usize);
            assert!(
                next > p && gap <= size + 2 * MALLOC_ALIGNMENT,
                "{what}: block {} at {next:?} does not follow block {i} at {p:?} ({size} bytes)",
                i + 1
            );
        }
    }
    for (i, (&p, &size)) in blocks.iter().zip(sizes).enumerate() {
        unsafe { fill(p.cast(), 0, size, 1000 + i as u64) };
    }
    for (i, (&p, &size)) in blocks.iter().zip(sizes).enumerate() {
        unsafe { assert_pattern(p.cast(), 0, size, 1000 + i as u64, what) };
    }
}

#[test]
fn independent_calloc_allocates_its_own_array() {
    dirty_the_heap();
    for (n, size) in [
        (1usize, 1usize),
        (10, 40),
        (7, 1000),
        (100, 24),
        (3, 70_000),
    ] {
        let array = unsafe { dlindependent_calloc(n, size, null_mut()) };
        assert!(
            !array.is_null(),
            "dlindependent_calloc({n}, {size}, null) returned null"
        );
        let blocks = entries(array, n);
        for (i, &p) in blocks.iter().enumerate() {
            assert!(!p.is_null(), "block {i} is null");
            assert!(
                unsafe { all_zero(p.cast(), size) },
                "block {i} of {n}x{size} not zeroed"
            );
        }
        check_blocks(
            &blocks,
            &vec![size; n],
            &format!("dlindependent_calloc({n}, {size})"),
        );
        assert_heap_ok("with independent_calloc blocks live");
        // Free in a scrambled order, then the array.
        for i in (0..n).step_by(2).chain((1..n).step_by(2)) {
            unsafe { dlfree(blocks[i]) };
        }
        unsafe { dlfree(array.cast()) };
        assert_heap_ok("after freeing independent_calloc blocks");
    }
}

#[test]
fn independent_calloc_fills_a_caller_array() {
    dirty_the_heap();
    let mut array = [null_mut::<c_void>(); 12];
    let returned = unsafe { dlindependent_calloc(array.len(), 56, array.as_mut_ptr()) };
    assert_eq!(
        returned,
        array.as_mut_ptr(),
        "the caller's array was not returned"
    );
    for (i, &p) in array.iter().enumerate() {
        assert!(!p.is_null(), "entry {i} is null");
        assert!(unsafe { all_zero(p.cast(), 56) }, "block {i} not zeroed");
    }
    check_blocks(
        &array,
        &[56; 12],
        "dlindependent_calloc into a caller array",
    );
    for p in array {
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after freeing blocks of a caller array");
}

#[test]
fn independent_comalloc_with_varied_sizes() {
    let sizes = [1usize, 17, 100, 4000, 24, 333, 65_536, 8, 0, 12_345];
    let array = unsafe { dlindependent_comalloc(sizes.len(), sizes.as_ptr(), null_mut()) };
    assert!(!array.is_null(), "dlindependent_comalloc returned null");
    let blocks = entries(array, sizes.len());
    check_blocks(&blocks, &sizes, "dlindependent_comalloc");
    assert_heap_ok("with comalloc blocks live");
    // The array first this time: each block stays valid on its own.
    unsafe { dlfree(array.cast()) };
    for (i, &p) in blocks.iter().enumerate() {
        unsafe { assert_pattern(p.cast(), 0, sizes[i], 1000 + i as u64, "comalloc block") };
    }
    for p in blocks.into_iter().rev() {
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after freeing comalloc blocks");
}

#[test]
fn independent_comalloc_fills_a_caller_array_and_blocks_resize() {
    let sizes = [48usize, 200, 16, 3000];
    let mut array = [null_mut::<c_void>(); 4];
    let returned = unsafe { dlindependent_comalloc(4, sizes.as_ptr(), array.as_mut_ptr()) };
    assert_eq!(
        returned,
        array.as_mut_ptr(),
        "the caller's array was not returned"
    );
    check_blocks(&array, &sizes, "dlindependent_comalloc into a caller array");
    // Each block is an ordinary chunk: realloc works on it.
    let grown = unsafe { dlrealloc(array[1], 10_000) };
    assert!(!grown.is_null());
    unsafe { assert_pattern(grown.cast(), 0, 200, 1001, "comalloc block after realloc") };
    array[1] = grown;
    for p in array {
        unsafe { dlfree(p) };
    }
    assert_heap_ok("after freeing comalloc blocks of a caller array");
}

#[test]
fn random_independent_allocations() {
    let mut rng = Rng::new(0x1DE9);
    for round in 0..200 {
        let n = rng.range(1, 40);
        let sizes: Vec<usize> = (0..n).map(|_| rng.range(0, 3000)).collect();
        let array = if round % 2 == 0 {
            unsafe { dlindependent_comalloc(n, sizes.as_ptr(), null_mut()) }
        } else {
            unsafe { dlindependent_calloc(n, sizes[0], null_mut()) }
        };
        assert!(!array.is_null(), "round {round}: null");
        let blocks = entries(array, n);
        let sizes = if round % 2 == 0 {
            sizes
        } else {
            vec![sizes[0]; n]
        };
        check_blocks(&blocks, &sizes, &format!("round {round}"));
        unsafe { dlfree(array.cast()) };
        for p in blocks {
            unsafe { dlfree(p) };
        }
    }
    assert_heap_ok("after random independent allocations");
}

#[test]
fn zero_blocks_do_not_crash() {
    let sizes = [10usize];
    // With no array: null or a freeable empty array.
    let a = unsafe { dlindependent_calloc(0, 16, null_mut()) };
    if !a.is_null() {
        unsafe { dlfree(a.cast()) };
    }
    let b = unsafe { dlindependent_comalloc(0, sizes.as_ptr(), null_mut()) };
    if !b.is_null() {
        unsafe { dlfree(b.cast()) };
    }
    // With a caller array: nothing is written to it.
    let mut array = [0x77usize as *mut c_void; 2];
    let c = unsafe { dlindependent_calloc(0, 16, array.as_mut_ptr()) };
    assert!(c.is_null() || c == array.as_mut_ptr());
    let d = unsafe { dlindependent_comalloc(0, sizes.as_ptr(), array.as_mut_ptr()) };
    assert!(d.is_null() || d == array.as_mut_ptr());
    assert_eq!(
        array, [0x77usize as *mut c_void; 2],
        "n = 0 wrote into the caller's array"
    );
    assert_heap_ok("after n = 0 independent allocations");
}

#[test]
fn overflowing_independent_calloc_returns_null() {
    let array = unsafe { dlindependent_calloc(usize::MAX / 2 + 1, 2, null_mut()) };
    assert!(
        array.is_null(),
        "dlindependent_calloc with an overflowing total returned {array:?}"
    );
    let array = unsafe { dlindependent_calloc(2, usize::MAX / 2, null_mut()) };
    assert!(
        array.is_null(),
        "dlindependent_calloc with a huge element returned {array:?}"
    );
    let sizes = [16usize, usize::MAX - 64, 16];
    let array = unsafe { dlindependent_comalloc(3, sizes.as_ptr(), null_mut()) };
    assert!(
        array.is_null(),
        "dlindependent_comalloc with a huge size returned {array:?}"
    );
    assert_heap_ok("after overflowing independent allocations");
}
