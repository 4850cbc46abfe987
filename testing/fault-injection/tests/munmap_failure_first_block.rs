//! The global heap's very first block is directly mapped, so the heap has
//! no segment yet; its unmap fails on free. The core must make that mapping
//! the heap's first segment: the heap checks clean, the footprint stays,
//! the memory serves the next requests without asking the system, and a
//! trim gives it back once munmap works.
//!
//! The only test in this file: it needs a global heap that has never been
//! used in this process.

mod common;

use common::*;
use dlmalloc_fault_injection as faults;

#[test]
fn first_block_kept_as_first_segment() {
    let _only_me = faults::exclusive();
    let heap = Heap::GLOBAL;
    assert_eq!(heap.footprint(), 0, "the global heap was used before");
    let first = Block::fill(heap.malloc(4 * MIB), 4 * MIB, 1);
    let info = heap.mallinfo();
    assert_eq!(
        (info.arena, info.hblks),
        (0, 1),
        "the first block is not a mapping of its own: {info:?}"
    );
    let footprint = heap.footprint();

    faults::fail_munmap(true);
    // SAFETY: a live block of this heap, freed once.
    unsafe { heap.free(first.ptr) };
    let info = heap.mallinfo();
    assert_eq!(
        (info.arena, info.hblks, info.hblkhd),
        (footprint, 0, 0),
        "the kept mapping is not the heap's arena: {info:?}"
    );
    assert_eq!(heap.footprint(), footprint);
    assert_clean(heap, "first mapping kept as a segment");
    assert_accounting(&[heap], 0, "first mapping kept as a segment");

    let calls = faults::counters().mmap_calls;
    let blocks: Vec<Block> = (0..100)
        .map(|i| Block::fill(heap.malloc(1000 + i), 1000 + i, i as u64))
        .collect();
    let large = Block::fill(heap.malloc(3 * MIB), 3 * MIB, 7);
    assert_eq!(
        faults::counters().mmap_calls,
        calls,
        "the kept segment was not used"
    );
    assert_clean(heap, "blocks in the kept segment");
    free_all(heap, blocks, "block in the kept segment");
    free_all(heap, vec![large], "large block in the kept segment");
    assert!(!heap.trim(0), "trim(0) claims success while munmap fails");
    assert_clean(heap, "after a failed trim");

    faults::fail_munmap(false);
    assert!(heap.trim(0), "trim(0) released nothing");
    assert!(heap.footprint() < footprint / 2);
    assert_clean(heap, "after a working trim");
    assert_accounting(&[heap], 0, "after a working trim");
    let again = heap.malloc(100);
    assert!(!again.is_null());
    // SAFETY: a live block of this heap, freed once.
    unsafe { heap.free(again) };
    assert_clean(heap, "at the end");
}
