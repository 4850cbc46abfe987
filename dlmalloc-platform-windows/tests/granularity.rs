//! The page size and allocation granularity come from `GetSystemInfo`, and
//! the platform makes the allocation granularity (64 KiB) the core's
//! granularity before `main`: an mspace created with capacity 0 ("one
//! granularity") maps exactly that much, not the core's built-in 2 MiB.

use dlmalloc::raw::{create_mspace, destroy_mspace, mspace_free, mspace_malloc};
use dlmalloc_platform_windows::{
    allocation_granularity, custom_page_size, mapped_bytes, page_size, set_granularity_from_system,
};

#[test]
fn the_system_values_and_the_core_granularity() {
    assert_eq!(page_size(), 4096, "x86_64 Windows has 4 KiB pages");
    assert_eq!(custom_page_size(), page_size());
    assert_eq!(allocation_granularity(), 64 << 10);

    let before = mapped_bytes();
    // SAFETY: plain calls into the C API; the heap is destroyed below and
    // not used afterwards.
    unsafe {
        let heap = create_mspace(0, 0);
        assert!(!heap.is_null());
        assert_eq!(mapped_bytes() - before, allocation_granularity());
        let block = mspace_malloc(heap, 1000);
        assert!(!block.is_null());
        mspace_free(heap, block);
        assert_eq!(destroy_mspace(heap), allocation_granularity());
    }
    assert_eq!(mapped_bytes(), before);
    // Setting it again (as a program without the C runtime's initialisers
    // would) is accepted.
    assert!(set_granularity_from_system());
}
