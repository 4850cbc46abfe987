//! `dlbulk_malloc` / `mspace_bulk_malloc`: up to n separate blocks under one
//! lock acquisition; fewer when memory runs out, none for n == 0 or a size
//! no block can have. Each block is an ordinary block: aligned, large
//! enough, disjoint from the others, freed one by one.

use dlmalloc_platform_std as _;

use core::ffi::c_void;
use core::ptr::null_mut;

use dlmalloc_sys::*;

fn assert_blocks(blocks: &[*mut c_void], bytes: usize) {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for (i, &block) in blocks.iter().enumerate() {
        assert!(!block.is_null(), "block {i} is null");
        assert_eq!(block as usize % MALLOC_ALIGNMENT, 0, "block {i} misaligned");
        // SAFETY: a live block of this heap.
        let usable = unsafe { dlmalloc_usable_size(block) };
        assert!(
            usable >= bytes,
            "block {i}: {usable} usable bytes for {bytes}"
        );
        // SAFETY: the block has `bytes` bytes.
        unsafe { core::ptr::write_bytes(block.cast::<u8>(), i as u8, bytes) };
        ranges.push((block as usize, block as usize + bytes));
    }
    ranges.sort();
    assert!(
        ranges.windows(2).all(|w| w[0].1 <= w[1].0),
        "blocks overlap"
    );
    for (i, &block) in blocks.iter().enumerate() {
        // SAFETY: written above.
        let bytes_seen = unsafe { core::slice::from_raw_parts(block.cast::<u8>(), bytes) };
        assert!(
            bytes_seen.iter().all(|&b| b == i as u8),
            "block {i} was overwritten"
        );
    }
}

#[test]
fn global_heap_hands_out_n_separate_blocks() {
    for bytes in [1usize, 24, 100, 1000, 5000] {
        let mut array = [null_mut::<c_void>(); 8];
        // SAFETY: the array holds 8 pointers.
        let taken = unsafe { dlbulk_malloc(bytes, array.as_mut_ptr(), 8) };
        assert_eq!(taken, 8, "{bytes}-byte blocks");
        assert_blocks(&array, bytes);
        for block in array {
            // SAFETY: each block is freed once.
            unsafe { dlfree(block) };
        }
    }
    // SAFETY: the check only reads the global heap.
    let violations = unsafe { dlmalloc_check(None, null_mut()) };
    assert_eq!(violations, 0);
}

#[test]
fn nothing_for_zero_blocks_or_impossible_sizes() {
    let mut array = [null_mut::<c_void>(); 4];
    // SAFETY: the array holds 4 pointers (0 asked for in the first call).
    unsafe {
        assert_eq!(dlbulk_malloc(64, array.as_mut_ptr(), 0), 0);
        assert_eq!(dlbulk_malloc(usize::MAX - 8, array.as_mut_ptr(), 4), 0);
    }
    assert!(array.iter().all(|p| p.is_null()), "the array was written");
}

#[test]
fn an_mspace_at_its_limit_hands_out_fewer() {
    // SAFETY: a private mspace, destroyed at the end.
    unsafe {
        // Room for some 64 KiB blocks whatever the platform's granularity
        // (a new mspace's first segment is one granularity unit: 2 MiB by
        // default, 64 KiB on Windows).
        let msp = create_mspace(1 << 20, 0);
        assert!(!msp.is_null());
        let limit = mspace_set_footprint_limit(msp, mspace_footprint(msp));
        let mut array = [null_mut::<c_void>(); 64];
        let taken = mspace_bulk_malloc(msp, 64 << 10, array.as_mut_ptr(), 64);
        assert!(
            taken > 0 && taken < 64,
            "took {taken} 64 KiB blocks under a {limit}-byte limit"
        );
        assert!(array[taken..].iter().all(|p| p.is_null()));
        assert_blocks(&array[..taken], 64 << 10);
        assert!(mspace_footprint(msp) <= limit);
        assert_eq!(mspace_check(msp, None, null_mut()), 0);
        destroy_mspace(msp);
    }
}
