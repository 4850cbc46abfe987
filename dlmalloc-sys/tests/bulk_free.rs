//! `dlbulk_free`: frees every non-null entry, sets every entry to null,
//! returns 0, and gives back exactly the bytes the blocks held. The tests
//! share one lock because they compare exact heap statistics.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

use core::ffi::c_void;
use core::ptr::null_mut;

use dlmalloc_sys::*;
use dlmalloc_test_support::{Rng, assert_heap_ok, assert_pattern, fill, serial};

/// Allocates `count` blocks of random (mostly small) sizes into an array
/// with a null entry after every seventh block. The first bytes of the
/// block at array index `i` hold the pattern for seed `i`. Returns the
/// array and each entry's size (0 for the null entries).
fn random_blocks(rng: &mut Rng, count: usize) -> (Vec<*mut c_void>, Vec<usize>) {
    let mut array = Vec::with_capacity(count + count / 7 + 1);
    let mut sizes = Vec::with_capacity(array.capacity());
    for i in 0..count {
        let size = if rng.chance(90) {
            rng.range(1, 512)
        } else {
            rng.range(513, 16_384)
        };
        let p = unsafe { dlmalloc(size) };
        assert!(!p.is_null(), "dlmalloc({size}) returned null");
        unsafe { fill(p.cast(), 0, size.min(64), array.len() as u64) };
        array.push(p);
        sizes.push(size);
        if i % 7 == 6 {
            array.push(null_mut());
            sizes.push(0);
        }
    }
    (array, sizes)
}

/// The heap's bytes in use. Trims first: a segment the blocks made the
/// heap add keeps a record chunk (counted in use) until it is released.
fn in_use() -> usize {
    unsafe {
        dlmalloc_trim(0);
        dlmallinfo().uordblks
    }
}

#[test]
fn bulk_free_of_a_thousand_blocks() {
    let _serial = serial();
    // Give the heap its first segment, whose record chunk counts in use and
    // stays: were this test the first to use the heap, `before` would be 0
    // and never come back.
    unsafe { dlfree(dlmalloc(1)) };
    let mut rng = Rng::new(0xB01C);
    for round in 0..3 {
        let before = in_use();
        let (mut array, sizes) = random_blocks(&mut rng, 1000);
        assert_eq!(array.iter().filter(|p| !p.is_null()).count(), 1000);
        for (i, &p) in array.iter().enumerate() {
            if !p.is_null() {
                unsafe { assert_pattern(p.cast(), 0, sizes[i].min(64), i as u64, "live block") };
            }
        }
        assert!(
            in_use() > before,
            "round {round}: allocating 1000 blocks did not raise uordblks"
        );
        // Shuffle so neighbours in memory are not neighbours in the array.
        for i in (1..array.len()).rev() {
            array.swap(i, rng.below(i + 1));
        }
        let not_freed = unsafe { dlbulk_free(array.as_mut_ptr(), array.len()) };
        assert_eq!(
            not_freed, 0,
            "round {round}: dlbulk_free could not free {not_freed} blocks"
        );
        assert!(
            array.iter().all(|p| p.is_null()),
            "round {round}: dlbulk_free left {} entries non-null",
            array.iter().filter(|p| !p.is_null()).count()
        );
        let after = in_use();
        assert_eq!(
            after, before,
            "round {round}: uordblks {before} before the blocks, {after} after bulk_free"
        );
        assert_heap_ok("after dlbulk_free");
    }
}

#[test]
fn bulk_free_of_a_prefix_leaves_the_rest_alive() {
    let _serial = serial();
    let mut rng = Rng::new(0xB02C);
    let (mut array, sizes) = random_blocks(&mut rng, 300);
    let half = array.len() / 2;
    let not_freed = unsafe { dlbulk_free(array.as_mut_ptr(), half) };
    assert_eq!(not_freed, 0);
    assert!(
        array[..half].iter().all(|p| p.is_null()),
        "freed entries must be nulled"
    );
    for (i, &p) in array.iter().enumerate().skip(half) {
        if !p.is_null() {
            // The untouched half is still allocated and intact.
            assert!(unsafe { dlmalloc_usable_size(p) } >= sizes[i]);
            unsafe { assert_pattern(p.cast(), 0, sizes[i].min(64), i as u64, "untouched block") };
        }
    }
    assert_heap_ok("after freeing half the array");
    let not_freed = unsafe { dlbulk_free(array.as_mut_ptr().add(half), array.len() - half) };
    assert_eq!(not_freed, 0);
    assert!(array.iter().all(|p| p.is_null()));
    assert_heap_ok("after freeing the rest");
}

#[test]
fn bulk_free_of_nothing() {
    let _serial = serial();
    let before = in_use();
    let mut nulls = [null_mut::<c_void>(); 16];
    assert_eq!(unsafe { dlbulk_free(nulls.as_mut_ptr(), nulls.len()) }, 0);
    assert_eq!(unsafe { dlbulk_free(nulls.as_mut_ptr(), 0) }, 0);
    assert_eq!(unsafe { dlbulk_free(null_mut(), 0) }, 0);
    assert_eq!(in_use(), before);
    assert_heap_ok("after dlbulk_free of nothing");
}

#[test]
fn bulk_free_of_mixed_sizes_including_large_blocks() {
    let _serial = serial();
    unsafe { dlfree(dlmalloc(1)) };
    let before = in_use();
    let mut array: Vec<*mut c_void> = [8usize, 3 << 20, 100, 70_000, 5 << 20, 1]
        .iter()
        .map(|&size| {
            let p = unsafe { dlmalloc(size) };
            assert!(!p.is_null());
            p
        })
        .collect();
    let not_freed = unsafe { dlbulk_free(array.as_mut_ptr(), array.len()) };
    assert_eq!(not_freed, 0);
    assert!(array.iter().all(|p| p.is_null()));
    assert_eq!(
        in_use(),
        before,
        "uordblks after bulk-freeing blocks up to 5 MiB"
    );
    assert_heap_ok("after bulk-freeing large blocks");
}
