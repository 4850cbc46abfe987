//! What every platform checks about requests its memory can never hold,
//! given its own sizes: the C API's allocating calls return null, a failed
//! realloc returns null and keeps its block, and the heap still works
//! afterwards.
//!
//! Shared by the platforms that cannot run the main workspace's tests
//! (wasm32, Windows): each includes this file as a module of its
//! `tests/too_large.rs`, which declares the global `DLMalloc` as `GLOBAL`
//! and the sizes as `TOO_LARGE` (they differ: wasm32 memory ends at 4 GiB,
//! a Windows process's address space at 128 TiB) and keeps the cases only
//! its platform has.

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::raw::{dlcalloc, dlmalloc, dlmemalign, dlrealloc};

use super::{GLOBAL, TOO_LARGE};

/// `dlmalloc`, `dlcalloc` (either factor too large) and `dlmemalign`
/// return null for every size in `TOO_LARGE`.
pub fn c_api_requests_return_null() {
    for size in TOO_LARGE {
        // SAFETY: plain calls into the C API with any size.
        unsafe {
            assert!(dlmalloc(size).is_null(), "{size}");
            assert!(dlcalloc(1, size).is_null(), "{size}");
            assert!(dlcalloc(size, 3).is_null(), "{size}");
            assert!(dlmemalign(1 << 16, size).is_null(), "{size}");
        }
    }
}

/// After the failed requests, a small allocation works and the heap's
/// structure is intact.
pub fn heap_still_works() {
    let small = vec![7u8; 1000];
    assert_eq!(small.iter().map(|&b| b as usize).sum::<usize>(), 7000);
    GLOBAL.heap_check().unwrap();
}

#[test]
fn realloc_too_large_returns_null_and_keeps_the_block() {
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: non-zero size.
    let ptr = unsafe { GLOBAL.alloc(layout) };
    assert!(!ptr.is_null());
    // SAFETY: a live block of 100 bytes.
    unsafe { ptr.write_bytes(0x5A, 100) };
    for size in TOO_LARGE {
        // SAFETY: a live block of the global heap; a failed realloc keeps it.
        assert!(unsafe { dlrealloc(ptr.cast(), size) }.is_null(), "{size}");
    }
    // SAFETY: still live after the failed reallocs.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, 100) };
    assert!(bytes.iter().all(|&b| b == 0x5A));
    // SAFETY: live, freed once.
    unsafe { GLOBAL.dealloc(ptr, layout) };
    GLOBAL.heap_check().unwrap();
}
