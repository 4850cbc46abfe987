//! A request no address space can hold returns null (`Err` from
//! `try_reserve`): `VirtualAlloc` fails, `custom_mmap` reports it, and
//! nothing is lost. The sizes are beyond the 128 TiB of user address space
//! that 64-bit Windows gives a process, and up to `usize::MAX` (where the
//! core's own size arithmetic must not overflow). The cases every platform
//! has come from `testing/platform-behaviour/too_large.rs`.

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;
use dlmalloc_platform_windows as _;

#[path = "../../testing/platform-behaviour/too_large.rs"]
mod shared;

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
    shared::c_api_requests_return_null();
    let layout = Layout::from_size_align(1 << 47, 64).unwrap();
    // SAFETY: non-zero size.
    assert!(unsafe { GLOBAL.alloc(layout) }.is_null());
    let mut vec: Vec<u8> = Vec::new();
    assert!(vec.try_reserve_exact(1 << 47).is_err());
    shared::heap_still_works();
}
