//! A request that linear memory can never hold returns null: no trap.
//!
//! wasm32 memory is at most 4 GiB, and `GlobalAlloc` layouts at most
//! `isize::MAX` (2 GiB) bytes, which an engine with 4 GiB memories may
//! grant. So the 3 GiB and larger requests go through the raw C API
//! (`dlmalloc`, `dlcalloc`, `dlmemalign`, `dlrealloc`), as C code would
//! make them, and through `Vec::try_reserve`.

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;
use dlmalloc::raw::{dlcalloc, dlfree, dlmalloc, dlmemalign, dlrealloc};
use dlmalloc_platform_wasm as _;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// Sizes no wasm32 memory can hold next to what the module already has.
const TOO_LARGE: [usize; 4] = [
    (3 << 30) + (512 << 20),
    usize::MAX - (64 << 10),
    usize::MAX / 2 + (1 << 30),
    usize::MAX,
];

#[test]
fn requests_beyond_memory_return_null() {
    let before = GLOBAL.stats();
    for size in TOO_LARGE {
        // SAFETY: plain calls into the C API with any size.
        unsafe {
            assert!(dlmalloc(size).is_null(), "{size}");
            assert!(dlcalloc(1, size).is_null(), "{size}");
            assert!(dlcalloc(size, 3).is_null(), "{size}");
            assert!(dlmemalign(1 << 16, size).is_null(), "{size}");
        }
    }
    let mut vec: Vec<u8> = Vec::new();
    assert!(vec.try_reserve_exact(3 << 30).is_err());
    // Nothing was lost: the heap did not grow and still works.
    assert_eq!(GLOBAL.stats().footprint, before.footprint);
    let small = vec![7u8; 1000];
    assert_eq!(small.iter().map(|&b| b as usize).sum::<usize>(), 7000);
    GLOBAL.heap_check().unwrap();
}

#[test]
fn three_gib_returns_null_or_works() {
    // 3 GiB: Node's engine allows 4 GiB memories, so this may be granted;
    // either way it must not trap, and a granted block must be usable.
    // SAFETY: a plain call into the C API.
    let ptr = unsafe { dlmalloc(3 << 30) };
    if !ptr.is_null() {
        // SAFETY: a live block of 3 GiB: its first and last bytes.
        unsafe {
            ptr.cast::<u8>().write(1);
            ptr.cast::<u8>().add((3 << 30) - 1).write(2);
            dlfree(ptr);
        }
    }
    GLOBAL.heap_check().unwrap();
}

#[test]
fn realloc_beyond_memory_returns_null_and_keeps_the_block() {
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
