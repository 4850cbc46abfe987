//! Dropping an `Mspace` returns every page it mapped, its segments and its
//! directly mapped large blocks, even with blocks still allocated.

use allocator_api2::alloc::{Allocator, Layout};
use allocator_api2::vec::Vec;

use dlmalloc::Mspace;
use dlmalloc_platform_std as _;
use dlmalloc_platform_std::mapped_bytes;

#[test]
fn drop_returns_every_page() {
    let before = mapped_bytes();
    let heap = Mspace::new(1 << 20);
    let a = &heap;

    // Many small and medium blocks, some freed, the rest left allocated.
    let mut kept = 0;
    for i in 0..20_000usize {
        let layout = Layout::from_size_align(16 + (i * 37) % 4000, 8).unwrap();
        let block = a.allocate(layout).unwrap();
        if i % 3 == 0 {
            // SAFETY: `block` fits `layout`.
            unsafe { a.deallocate(block.cast(), layout) };
        } else {
            kept += layout.size();
        }
    }
    // Large blocks, each with a mapping of its own.
    for size in [1 << 20, 3 << 20, 8 << 20] {
        let layout = Layout::from_size_align(size, 4096).unwrap();
        let block = a.allocate(layout).unwrap();
        // SAFETY: a fresh block of `size` bytes; touch it so it is real.
        unsafe { block.cast::<u8>().write_bytes(1, size) };
        kept += size;
    }
    // And a collection, dropped before the heap.
    let mut numbers: Vec<u64, _> = Vec::new_in(&heap);
    numbers.extend(0..100_000);

    let stats = heap.stats();
    assert!(
        stats.mmapped_chunks >= 3,
        "large blocks were not mapped:\n{stats}"
    );
    assert!(stats.in_use_bytes >= kept);
    assert_eq!(mapped_bytes() - before, stats.footprint);
    heap.heap_check().unwrap();

    drop(numbers);
    drop(heap);
    assert_eq!(
        mapped_bytes(),
        before,
        "pages of the dropped heap are still mapped"
    );
}
