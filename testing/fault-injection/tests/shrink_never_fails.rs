//! Shrinking needs no new memory, so it must work while the system has
//! none: realloc to a smaller size returns a block holding the old prefix,
//! for a small block, a directly mapped block that stays above the mmap
//! threshold, and a directly mapped block shrunk below it (which the core
//! would rather move into the heap; with the heap full and no system memory
//! it must keep the block where it is instead of failing). A null here would
//! make Rust's `Vec::shrink_to_fit` end the process (`handle_alloc_error`).
//! On the global heap and on an mspace.

mod common;

use common::*;
use dlmalloc_fault_injection as faults;

fn scenario(heap: Heap) {
    let name = heap.name();
    let small = Block::fill(heap.malloc(5000), 5000, 1);
    let above = Block::fill(heap.malloc(4 * MIB), 4 * MIB, 2);
    let below = Block::fill(heap.malloc(4 * MIB), 4 * MIB, 3);
    assert!(
        heap.mallinfo().hblks >= 2,
        "{name}: the large blocks are not mapped"
    );
    faults::fail_mmap_after(0);
    let filler = exhaust(heap, 10);
    // The move-prone shrink first: the others free memory it could use.
    let mut shrunk = Vec::new();
    for (block, to) in [(below, 1000), (above, MIB), (small, 100)] {
        // SAFETY: a live block of this heap.
        let p = unsafe { heap.realloc(block.ptr, to) };
        assert!(
            !p.is_null(),
            "{name}: shrinking a {}-byte block to {to} bytes failed while out of memory",
            block.len
        );
        let mut moved = block;
        moved.ptr = p;
        moved.verify_prefix(to, "shrunk block");
        shrunk.push(p);
    }
    for p in shrunk {
        // SAFETY: a live block of this heap, freed once.
        unsafe { heap.free(p) };
    }
    assert_clean(heap, &format!("{name}, after the shrinks"));
    faults::reset();
    free_all(heap, filler, "filler");
    heap.trim(0);
    assert_clean(heap, &format!("{name}, at the end"));
}

#[test]
fn global_heap_shrinks_without_memory() {
    let _only_me = faults::exclusive();
    scenario(Heap::GLOBAL);
}

#[test]
fn mspace_shrinks_without_memory() {
    let _only_me = faults::exclusive();
    on_a_fresh_mspace(true, |heap, _| scenario(heap));
}
