//! Alignments from 1 byte to 64 KiB (the wasm page, Windows' allocation
//! granularity) through `DLMalloc`.
//!
//! Shared by the platforms that cannot run the main workspace's tests
//! (wasm32, Windows): each includes this file from a test of its own that
//! links its hooks (`use <platform> as _`).

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

#[test]
fn every_power_of_two_alignment_up_to_64_kib() {
    let mut blocks = Vec::new();
    for shift in 0..=16 {
        let align = 1usize << shift;
        for size in [1, 24, align, align + 1, 3 * align + 5, 100_000] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size.
            let ptr = unsafe { GLOBAL.alloc(layout) };
            assert!(!ptr.is_null(), "size {size} align {align}");
            assert_eq!(ptr as usize % align, 0, "size {size} align {align}");
            // SAFETY: a live block of `size` bytes.
            unsafe { ptr.write_bytes(shift as u8, size) };
            blocks.push((ptr, layout, shift as u8));
        }
    }
    GLOBAL.heap_check().unwrap();
    for (ptr, layout, value) in blocks {
        // SAFETY: live blocks of these layouts, freed once.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
        assert!(bytes.iter().all(|&b| b == value));
        // SAFETY: as above.
        unsafe { GLOBAL.dealloc(ptr, layout) };
    }
    GLOBAL.heap_check().unwrap();
}

#[test]
fn aligned_realloc_keeps_the_alignment() {
    let align = 64 << 10;
    let layout = Layout::from_size_align(1000, align).unwrap();
    // SAFETY: non-zero size.
    let ptr = unsafe { GLOBAL.alloc(layout) };
    assert!(!ptr.is_null());
    // SAFETY: a live block of 1000 bytes.
    unsafe { ptr.write_bytes(0xA5, 1000) };
    // SAFETY: a live block of `layout`, non-zero new size.
    let grown = unsafe { GLOBAL.realloc(ptr, layout, 200_000) };
    assert!(!grown.is_null());
    assert_eq!(grown as usize % align, 0);
    // SAFETY: the first 1000 bytes are kept.
    let bytes = unsafe { std::slice::from_raw_parts(grown, 1000) };
    assert!(bytes.iter().all(|&b| b == 0xA5));
    // SAFETY: a live block of 200 000 bytes with this alignment.
    unsafe { GLOBAL.dealloc(grown, Layout::from_size_align(200_000, align).unwrap()) };
    GLOBAL.heap_check().unwrap();
}
