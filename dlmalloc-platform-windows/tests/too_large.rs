//! A request no address space can hold returns null (`Err` from
//! `try_reserve`): `VirtualAlloc` fails, `custom_mmap` reports it, and
//! nothing is lost. The sizes are beyond the 128 TiB of user address space
//! that 64-bit Windows gives a process, and up to `usize::MAX` (where the
//! core's own size arithmetic must not overflow).

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;
use dlmalloc::raw::{dlcalloc, dlmalloc, dlmemalign, dlrealloc};
use dlmalloc_platform_windows as _;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// Sizes no process address space can hold.
const TOO_LARGE: [usize; 5] = [
    1 << 47,
    (1 << 47) + (64 << 10),
    usize::MAX - (64 << 10),
    usize::MAX / 2 + (1 << 30),
    usize::MAX,
];

#[test]
fn requests_beyond_the_address_space_return_null() {
    for size in TOO_LARGE {
        // SAFETY: plain calls into the C API with any size.
        unsafe {
            assert!(dlmalloc(size).is_null(), "{size}");
            assert!(dlcalloc(1, size).is_null(), "{size}");
            assert!(dlcalloc(size, 3).is_null(), "{size}");
            assert!(dlmemalign(1 << 16, size).is_null(), "{size}");
        }
    }
    let layout = Layout::from_size_align(1 << 47, 64).unwrap();
    // SAFETY: non-zero size.
    assert!(unsafe { GLOBAL.alloc(layout) }.is_null());
    let mut vec: Vec<u8> = Vec::new();
    assert!(vec.try_reserve_exact(1 << 47).is_err());
    // The heap still works.
    let small = vec![7u8; 1000];
    assert_eq!(small.iter().map(|&b| b as usize).sum::<usize>(), 7000);
    GLOBAL.heap_check().unwrap();
}

#[test]
fn realloc_beyond_the_address_space_returns_null_and_keeps_the_block() {
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
