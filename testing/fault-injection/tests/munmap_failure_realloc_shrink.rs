//! Shrinking a directly mapped block while `custom_munmap` fails. A shrink
//! that stays above the mmap threshold is done in place: realloc and
//! realloc_in_place return the same block, whole and unchanged, with its
//! old size and mapping, and nothing in the accounts moves. Once munmap
//! works the same shrink gives the tail pages back. A shrink below the
//! threshold moves the block; the old mapping is then kept as heap memory.
//! On the global heap and on an mspace.

mod common;

use common::*;
use dlmalloc_fault_injection as faults;
use dlmalloc_sys::*;

const LARGE: usize = 4 * MIB;

fn usable(p: *mut u8) -> usize {
    // SAFETY: `p` is a live block of one of the heaps.
    unsafe { dlmalloc_usable_size(p.cast()) }
}

fn scenario(heap: Heap, all: &[Heap]) {
    let name = heap.name();
    let mut block = Block::fill(heap.malloc(LARGE), LARGE, 42);
    let info = heap.mallinfo();
    assert!(info.hblks >= 1, "{name}: {LARGE} bytes are not mapped");
    let footprint = heap.footprint();
    let size = usable(block.ptr);

    // ---- in place, the tail cannot be given back -----------------------------
    faults::fail_munmap(true);
    let failures = faults::counters().munmap_failures;
    assert_eq!(
        // SAFETY: a live block of this heap.
        unsafe { heap.realloc(block.ptr, MIB) },
        block.ptr,
        "{name}: a shrinking realloc of a mapped block moved it"
    );
    assert_eq!(
        // SAFETY: a live block of this heap.
        unsafe { heap.realloc_in_place(block.ptr, MIB / 2) },
        block.ptr,
        "{name}: a shrinking realloc_in_place failed"
    );
    assert_eq!(
        faults::counters().munmap_failures,
        failures + 2,
        "{name}: the shrinks did not try to give the tail back"
    );
    assert_eq!(
        usable(block.ptr),
        size,
        "{name}: the block lost its tail although munmap failed"
    );
    block.verify("mapped block after shrinks whose munmap failed");
    assert!(faults::is_mapped(block.ptr as usize, LARGE));
    assert_eq!(heap.mallinfo(), info, "{name}: mallinfo moved");
    assert_eq!(heap.footprint(), footprint);
    assert_clean(heap, &format!("{name}, after failed tail releases"));
    assert_accounting(all, 0, &format!("{name}, after failed tail releases"));

    // ---- in place, munmap works ------------------------------------------------
    faults::fail_munmap(false);
    // SAFETY: a live block of this heap.
    assert_eq!(unsafe { heap.realloc(block.ptr, MIB) }, block.ptr);
    let shrunk = usable(block.ptr);
    assert!(
        (MIB..size).contains(&shrunk),
        "{name}: usable size {shrunk} after shrinking {size} to {MIB}"
    );
    let released = footprint - heap.footprint();
    assert!(
        released >= LARGE - MIB - 2 * faults::custom_page_size(),
        "{name}: shrinking {LARGE} to {MIB} released only {released} bytes"
    );
    assert_eq!(heap.mallinfo().hblkhd, info.hblkhd - released);
    assert!(faults::is_unmapped(
        block.ptr as usize + 2 * MIB,
        LARGE - 2 * MIB
    ));
    block.verify_prefix(MIB, "mapped block after a working shrink");
    block.len = MIB;
    assert_clean(heap, &format!("{name}, after a working shrink"));
    assert_accounting(all, 0, &format!("{name}, after a working shrink"));

    // ---- below the threshold: the block moves, the old mapping stays --------
    faults::fail_munmap(true);
    let before = heap.mallinfo();
    // SAFETY: a live block of this heap.
    let moved = unsafe { heap.realloc(block.ptr, 1000) };
    assert!(!moved.is_null(), "{name}: realloc to 1000 bytes failed");
    assert_ne!(
        moved, block.ptr,
        "{name}: a mapped block shrunk below the threshold did not move"
    );
    let moved = Block {
        ptr: moved,
        len: 1000,
        seed: block.seed,
    };
    moved.verify("block moved out of a mapping");
    let after = heap.mallinfo();
    assert_eq!(after.hblks, before.hblks - 1);
    let kept = before.hblkhd - after.hblkhd;
    assert!(kept > MIB, "{name}: hblkhd fell by {kept} only");
    assert!(
        after.arena >= before.arena + kept && heap.footprint() >= before.arena + before.hblkhd,
        "{name}: the kept mapping left the accounts: {before:?} -> {after:?}"
    );
    assert!(faults::is_mapped(block.ptr as usize, MIB));
    assert_clean(heap, &format!("{name}, after a move whose unmap failed"));
    assert_accounting(all, 0, &format!("{name}, after a move whose unmap failed"));

    faults::fail_munmap(false);
    moved.verify("moved block at the end");
    // SAFETY: a live block of this heap, freed once.
    unsafe { heap.free(moved.ptr) };
    heap.trim(0);
    assert_clean(heap, &format!("{name}, at the end"));
    assert_accounting(all, 0, &format!("{name}, at the end"));
}

#[test]
fn global_heap_shrink_with_failing_munmap() {
    let _only_me = faults::exclusive();
    scenario(Heap::GLOBAL, &[Heap::GLOBAL]);
}

#[test]
fn mspace_shrink_with_failing_munmap() {
    let _only_me = faults::exclusive();
    on_a_fresh_mspace(true, scenario);
}
