//! Freeing a directly mapped block while `custom_munmap` fails: the core
//! keeps the mapping and turns it into a segment of the heap. The footprint
//! stays, mallinfo moves the bytes from `hblkhd` to `arena`, the heap checks
//! clean, the memory serves later requests without asking the system, a
//! segment made this way that becomes wholly free survives a trim whose
//! munmap fails, and once munmap works a trim gives it all back. On the
//! global heap and on an mspace.

mod common;

use common::*;
use dlmalloc_fault_injection as faults;

/// Far above the mmap threshold and above any top a fresh heap has.
const LARGE: usize = 4 * MIB;

fn scenario(heap: Heap, all: &[Heap], outside: usize) {
    let name = heap.name();
    let small: Vec<Block> = (0..20)
        .map(|i| Block::fill(heap.malloc(100 + 37 * i), 100 + 37 * i, i as u64))
        .collect();
    let first = Block::fill(heap.malloc(LARGE), LARGE, 500);
    let before = heap.mallinfo();
    assert!(before.hblks >= 1, "{name}: {LARGE} bytes are not mapped");
    let footprint = heap.footprint();

    // ---- the free whose munmap fails -------------------------------------
    faults::fail_munmap(true);
    let failures = faults::counters().munmap_failures;
    // SAFETY: a live block of this heap, freed once.
    unsafe { heap.free(first.ptr) };
    assert_eq!(faults::counters().munmap_failures, failures + 1);
    let after = heap.mallinfo();
    let map_bytes = before.hblkhd - after.hblkhd;
    assert_eq!(
        after.hblks,
        before.hblks - 1,
        "{name}: hblks after the failed unmap"
    );
    assert!(map_bytes > LARGE, "{name}: hblkhd fell by {map_bytes} only");
    assert_eq!(
        after.arena,
        before.arena + map_bytes,
        "{name}: the kept mapping did not join the arena"
    );
    assert_eq!(
        heap.footprint(),
        footprint,
        "{name}: a failed unmap moved the footprint"
    );
    assert!(faults::is_mapped(first.ptr as usize, LARGE));
    assert_clean(
        heap,
        &format!("{name}, after a large free whose unmap failed"),
    );
    assert_accounting_with(all, 0, outside, &format!("{name}, after the failed unmap"));
    verify_all(&small, "small block");

    // ---- the kept mapping serves requests ------------------------------------
    let calls = faults::counters().mmap_calls;
    // Larger than any top the trim threshold (2 MiB) lets a heap keep, so
    // only the kept mapping can serve it.
    let reuse = Block::fill(heap.malloc(3 * MIB), 3 * MIB, 600);
    let kept = first.ptr as usize - 4096..first.ptr as usize + LARGE;
    assert!(
        kept.contains(&(reuse.ptr as usize)),
        "{name}: {:?} is not in the kept mapping {kept:x?}",
        reuse.ptr
    );
    assert_eq!(
        faults::counters().mmap_calls,
        calls,
        "{name}: reuse asked the system"
    );
    assert_clean(heap, &format!("{name}, reusing the kept mapping"));

    // ---- a second kept mapping closes the first one's top -------------------
    let second = Block::fill(heap.malloc(LARGE), LARGE, 700);
    assert_eq!(
        heap.mallinfo().hblks,
        before.hblks,
        "{name}: the second large block is not mapped"
    );
    // The second mapping is kept too: it stays in the footprint.
    let footprint = heap.footprint();
    // SAFETY: a live block of this heap, freed once.
    unsafe { heap.free(second.ptr) };
    assert_eq!(heap.footprint(), footprint);
    assert_clean(heap, &format!("{name}, after a second failed unmap"));
    reuse.verify("block in the first kept mapping");
    // The first kept mapping is now an older segment; freeing its only
    // block leaves it wholly free.
    // SAFETY: a live block of this heap, freed once.
    unsafe { heap.free(reuse.ptr) };
    assert_clean(heap, &format!("{name}, wholly free older segment"));
    assert!(
        !heap.trim(0),
        "{name}: trim(0) claims success while munmap fails"
    );
    assert_eq!(heap.footprint(), footprint);
    assert_clean(heap, &format!("{name}, after a failed trim"));
    assert_accounting_with(all, 0, outside, &format!("{name}, after a failed trim"));
    // Both kept mappings are still usable memory.
    let calls = faults::counters().mmap_calls;
    let again: Vec<Block> = (0..2)
        .map(|i| Block::fill(heap.malloc(LARGE / 2), LARGE / 2, 800 + i))
        .collect();
    assert_eq!(faults::counters().mmap_calls, calls);
    assert_clean(heap, &format!("{name}, reusing both kept mappings"));
    free_all(heap, again, "block in a kept mapping");

    // ---- munmap works again ---------------------------------------------------
    faults::fail_munmap(false);
    assert!(heap.trim(0), "{name}: trim(0) released nothing");
    assert!(
        heap.footprint() + 2 * LARGE <= footprint,
        "{name}: the kept mappings were not released: footprint {} (was {footprint})",
        heap.footprint()
    );
    assert!(faults::is_unmapped(first.ptr as usize, LARGE));
    assert_clean(heap, &format!("{name}, after a working trim"));
    assert_accounting_with(all, 0, outside, &format!("{name}, after a working trim"));
    free_all(heap, small, "small block at the end");
}

#[test]
fn global_heap_large_free_with_failing_munmap() {
    let _only_me = faults::exclusive();
    scenario(Heap::GLOBAL, &[Heap::GLOBAL], 0);
}

#[test]
fn mspace_large_free_with_failing_munmap() {
    let _only_me = faults::exclusive();
    on_a_fresh_mspace(true, |heap, all| scenario(heap, all, 0));
}

/// Every way to get a directly mapped block (malloc, calloc, memalign with
/// a small and a large alignment, a shrunk mapping) ends as a clean segment
/// when its unmap fails.
fn every_kind_is_kept(heap: Heap, all: &[Heap]) {
    let name = heap.name();
    type Make = fn(Heap) -> *mut u8;
    let kinds: [(&str, Make); 5] = [
        ("malloc", |h| h.malloc(LARGE)),
        ("calloc", |h| h.calloc(LARGE / 8, 8)),
        ("memalign 64 KiB", |h| h.memalign(64 * KIB, LARGE)),
        ("memalign 1 MiB", |h| h.memalign(MIB, LARGE)),
        ("shrunk mapping", |h| {
            let p = h.malloc(2 * LARGE);
            // SAFETY: a live block of this heap.
            let q = unsafe { h.realloc(p, LARGE) };
            assert_eq!(q, p, "in-place shrink of a mapping");
            p
        }),
    ];
    for (kind, make) in kinds {
        let hblks = heap.mallinfo().hblks;
        let block = Block::fill(make(heap), LARGE, 900);
        assert_eq!(
            heap.mallinfo().hblks,
            hblks + 1,
            "{name}: the {kind} block is not mapped"
        );
        let footprint = heap.footprint();
        faults::fail_munmap(true);
        // SAFETY: a live block of this heap, freed once.
        unsafe { heap.free(block.ptr) };
        faults::fail_munmap(false);
        assert_eq!(heap.footprint(), footprint, "{name}, {kind}");
        assert!(faults::is_mapped(block.ptr as usize, LARGE));
        assert_clean(heap, &format!("{name}, {kind} block kept"));
        assert_accounting(all, 0, &format!("{name}, {kind} block kept"));
        // Give the kept memory back, so that the next block is mapped too.
        assert!(
            heap.trim(0),
            "{name}: the kept {kind} block was not trimmed"
        );
        assert!(faults::is_unmapped(
            block.ptr as usize + MIB,
            LARGE - 2 * MIB
        ));
        assert_clean(heap, &format!("{name}, {kind} block trimmed"));
        assert_accounting(all, 0, &format!("{name}, {kind} block trimmed"));
    }
}

#[test]
fn every_kind_of_mapped_block_is_kept() {
    let _only_me = faults::exclusive();
    every_kind_is_kept(Heap::GLOBAL, &[Heap::GLOBAL]);
    on_a_fresh_mspace(true, every_kind_is_kept);
}

#[test]
fn mspace_in_caller_memory_large_free_with_failing_munmap() {
    let _only_me = faults::exclusive();
    let mut region = vec![0u64; MIB / 8];
    // SAFETY: the region is live, writable, and outlives the mspace, which
    // is destroyed below before the region is dropped.
    let msp = unsafe { dlmalloc_sys::create_mspace_with_base(region.as_mut_ptr().cast(), MIB, 1) };
    assert!(!msp.is_null());
    // SAFETY: live until destroyed after its last use below.
    let heap = unsafe { Heap::mspace(msp) };
    let created = heap.footprint();
    let mapped = faults::counters().mapped_bytes;
    scenario(heap, &[Heap::GLOBAL, heap], created);
    let grown = heap.footprint() - created;
    assert_eq!(faults::counters().mapped_bytes, mapped + grown);
    // SAFETY: `msp` is live and none of its blocks is used again.
    assert_eq!(unsafe { dlmalloc_sys::destroy_mspace(msp) }, grown);
    assert_eq!(faults::counters().mapped_bytes, mapped);
    region.fill(3);
}
