//! Blocks from 1 KiB to 32 KiB go through the thread cache in stepped size
//! classes: they are cached on free, and a block joins a class by what it
//! really holds, so a block the heap handed out at its exact size is never
//! served to a request its class promises but it cannot hold.
#![cfg(any(target_os = "linux", windows))]

use core::alloc::{GlobalAlloc, Layout};

use dlmalloc::{DLMalloc, raw};
use dlmalloc_platform_std as _;

/// In use as the heaps count it: cached blocks included.
fn in_use_by_the_core() -> usize {
    DLMalloc.stats_unflushed().in_use_bytes
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

/// One test, run in turn, so no other test thread of this binary changes
/// the core's counters meanwhile (the harness allocates through System).
#[test]
fn large_classes() {
    freed_large_blocks_stay_cached();
    a_block_joins_the_class_it_holds();
    a_moving_realloc_between_classes_keeps_the_contents();
}

fn freed_large_blocks_stay_cached() {
    let sizes = [1025, 2048, 4096, 5000, 16 << 10, 32 << 10];
    // Warm up: the heap's first growth counts its segment bookkeeping as in
    // use, which the comparisons below must not mistake for a leak.
    for size in sizes {
        // SAFETY: a non-zero size; freed at once with its layout.
        unsafe { DLMalloc.dealloc(DLMalloc.alloc(layout(size)), layout(size)) };
    }
    for size in sizes {
        DLMalloc.flush_thread_caches();
        let before = in_use_by_the_core();
        // SAFETY: a non-zero size.
        let block = unsafe { DLMalloc.alloc(layout(size)) };
        assert!(!block.is_null());
        // SAFETY: the block was allocated above with this layout.
        unsafe { DLMalloc.dealloc(block, layout(size)) };
        // A cached block is still in use for the core.
        let cached = in_use_by_the_core();
        assert!(
            cached >= before + size,
            "a freed {size}-byte block left the cache: {before} -> {cached} bytes in use"
        );
        // The next request of the size takes the cached block back.
        // SAFETY: a non-zero size.
        let again = unsafe { DLMalloc.alloc(layout(size)) };
        assert_eq!(again, block, "{size}-byte request missed the cache");
        // SAFETY: as above.
        unsafe { DLMalloc.dealloc(again, layout(size)) };
        DLMalloc.flush_thread_caches();
        assert!(in_use_by_the_core() <= before, "{size}-byte block leaked");
    }
}

fn a_block_joins_the_class_it_holds() {
    DLMalloc.flush_thread_caches();
    // A block the heap hands out at its exact size (the C API, as when the
    // cache cannot be used): it holds 1300 bytes and a little more, less
    // than the 1536 of the class that serves 1300-byte requests.
    // SAFETY: plain malloc; the block goes back through DLMalloc below,
    // which frees blocks of the global heap whatever path made them.
    let exact = unsafe { raw::dlmalloc(1300) }.cast::<u8>();
    assert!(!exact.is_null());
    // SAFETY: a live block of the global heap.
    let holds = unsafe { raw::dlmalloc_usable_size(exact.cast()) };
    assert!((1300..1500).contains(&holds), "holds {holds}");
    // SAFETY: a live block of the global heap of at least 1300 bytes.
    unsafe { DLMalloc.dealloc(exact, layout(1300)) };

    // A 1500-byte request must not get it back.
    // SAFETY: a non-zero size.
    let larger = unsafe { DLMalloc.alloc(layout(1500)) };
    assert!(!larger.is_null());
    // SAFETY: a live block.
    let larger_holds = unsafe { raw::dlmalloc_usable_size(larger.cast()) };
    assert!(
        larger_holds >= 1500,
        "a 1500-byte request got a block of {larger_holds} bytes"
    );
    // SAFETY: the block has 1500 bytes.
    unsafe { larger.write_bytes(0x5a, 1500) };

    // A request the block does hold may reuse it.
    // SAFETY: a non-zero size.
    let smaller = unsafe { DLMalloc.alloc(layout(1200)) };
    assert_eq!(
        smaller, exact,
        "the block was not cached in the class it holds"
    );
    // SAFETY: both blocks are live, allocated with these layouts.
    unsafe {
        DLMalloc.dealloc(smaller, layout(1200));
        DLMalloc.dealloc(larger, layout(1500));
    }
    DLMalloc.heap_check().expect("heap is consistent");
}

fn a_moving_realloc_between_classes_keeps_the_contents() {
    let mut size = 1100;
    // SAFETY: a non-zero size.
    let mut block = unsafe { DLMalloc.alloc(layout(size)) };
    // SAFETY: the block has `size` bytes.
    unsafe { fill(block, size) };
    for new_size in [3000, 9000, 32 << 10, 2000, 1030, 20000] {
        // SAFETY: a live block of `size` bytes allocated with this layout.
        let moved = unsafe { DLMalloc.realloc(block, layout(size), new_size) };
        assert!(!moved.is_null());
        // SAFETY: the block holds the smaller of both sizes, written before.
        unsafe { verify(moved, size.min(new_size)) };
        // SAFETY: the block has `new_size` bytes.
        unsafe { fill(moved, new_size) };
        (block, size) = (moved, new_size);
    }
    // SAFETY: the live block, with its layout.
    unsafe { DLMalloc.dealloc(block, layout(size)) };
    DLMalloc.heap_check().expect("heap is consistent");
}

/// Writes a pattern of the block's offsets.
///
/// # Safety
///
/// `block` has `len` writable bytes.
unsafe fn fill(block: *mut u8, len: usize) {
    for i in 0..len {
        // SAFETY: in bounds (contract).
        unsafe { block.add(i).write(i as u8 ^ 0x3c) };
    }
}

/// Checks the pattern of [`fill`].
///
/// # Safety
///
/// `block` has `len` readable bytes.
unsafe fn verify(block: *mut u8, len: usize) {
    for i in 0..len {
        // SAFETY: in bounds (contract).
        assert_eq!(unsafe { block.add(i).read() }, i as u8 ^ 0x3c, "byte {i}");
    }
}
