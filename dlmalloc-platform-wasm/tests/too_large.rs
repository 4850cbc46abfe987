//! A request that linear memory can never hold returns null: no trap.
//!
//! wasm32 memory is at most 4 GiB, and `GlobalAlloc` layouts at most
//! `isize::MAX` (2 GiB) bytes, which an engine with 4 GiB memories may
//! grant. So the 3 GiB and larger requests go through the raw C API
//! (`dlmalloc`, `dlcalloc`, `dlmemalign`, `dlrealloc`), as C code would
//! make them, and through `Vec::try_reserve`. The cases every platform has
//! come from `testing/platform-behaviour/too_large.rs`.

use dlmalloc::DLMalloc;
use dlmalloc::raw::{dlfree, dlmalloc};
use dlmalloc_platform_wasm as _;

#[path = "../../testing/platform-behaviour/too_large.rs"]
mod shared;

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
    shared::c_api_requests_return_null();
    let mut vec: Vec<u8> = Vec::new();
    assert!(vec.try_reserve_exact(3 << 30).is_err());
    // Nothing was lost: the heap did not grow and still works.
    assert_eq!(GLOBAL.stats().footprint, before.footprint);
    shared::heap_still_works();
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
