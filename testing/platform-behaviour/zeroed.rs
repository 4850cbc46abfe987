//! `alloc_zeroed` returns zeroed memory, also when it reuses freed blocks
//! full of other bytes.
//!
//! Shared by the platforms that cannot run the main workspace's tests
//! (wasm32, Windows): each includes this file from a test of its own that
//! links its hooks (`use <platform> as _`).

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

#[test]
fn zeroed_after_dirty_frees() {
    for size in [8, 100, 1000, 5000, 70_000, 300_000] {
        let layout = Layout::from_size_align(size, 16).unwrap();
        for _ in 0..4 {
            // SAFETY: non-zero size.
            let dirty = unsafe { GLOBAL.alloc(layout) };
            assert!(!dirty.is_null());
            // SAFETY: a live block of `size` bytes, then freed once.
            unsafe {
                dirty.write_bytes(0xFF, size);
                GLOBAL.dealloc(dirty, layout);
            }
            // SAFETY: non-zero size.
            let zeroed = unsafe { GLOBAL.alloc_zeroed(layout) };
            assert!(!zeroed.is_null());
            // SAFETY: a live block of `size` bytes.
            let bytes = unsafe { std::slice::from_raw_parts(zeroed, size) };
            assert!(bytes.iter().all(|&b| b == 0), "size {size}");
            // SAFETY: a live block of this layout, freed once.
            unsafe { GLOBAL.dealloc(zeroed, layout) };
        }
    }
    let zeros = vec![0u64; 50_000];
    assert!(zeros.iter().all(|&z| z == 0));
    GLOBAL.heap_check().unwrap();
}
