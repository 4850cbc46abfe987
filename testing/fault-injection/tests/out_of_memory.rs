//! When `custom_mmap` fails for good and the heap's free memory is used up,
//! every allocating routine fails cleanly (null, ENOMEM, false), the heap
//! checks clean, its footprint does not move, no existing block changes,
//! and everything works again once the system has memory. On the global
//! heap (also with a platform that fails with null instead of `(void*)-1`),
//! on an mspace, and on an mspace in caller memory.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

mod common;

use core::ffi::c_void;
use core::ptr::null_mut;

use common::*;
use dlmalloc_fault_injection as faults;
use dlmalloc_sys::*;

/// A pointer value no routine returns; lets a test see that an output
/// argument was left alone.
const UNTOUCHED: *mut c_void = 0x5150 as *mut c_void;

/// Blocks of every kind, patterned: small, medium, directly mapped, aligned.
fn populate(heap: Heap) -> Vec<Block> {
    let mut blocks = Vec::new();
    for (i, size) in [24, 100, 1000, 64 * KIB, 4 * MIB].into_iter().enumerate() {
        let p = heap.malloc(size);
        assert!(!p.is_null(), "{}: malloc({size}) failed", heap.name());
        blocks.push(Block::fill(p, size, 1000 + i as u64));
    }
    let p = heap.memalign(4096, 5000);
    assert!(!p.is_null() && p as usize % 4096 == 0);
    blocks.push(Block::fill(p, 5000, 1100));
    blocks
}

/// Every allocating routine of `heap` returns failure; the blocks it was
/// given to resize are untouched.
fn every_routine_fails(heap: Heap, small: Block, mapped: Block) {
    let name = heap.name();
    for size in [1, 100, 64 * KIB, 8 * MIB] {
        assert!(heap.malloc(size).is_null(), "{name}: malloc({size})");
        assert!(heap.calloc(1, size).is_null(), "{name}: calloc(1, {size})");
        assert!(
            unsafe { heap.realloc(null_mut(), size) }.is_null(),
            "{name}: realloc(null, {size})"
        );
    }
    assert!(heap.calloc(10, 100).is_null(), "{name}: calloc(10, 100)");
    for align in [16, 64, 4096, MIB] {
        assert!(
            heap.memalign(align, 1).is_null(),
            "{name}: memalign({align}, 1)"
        );
    }
    for (block, grown) in [(small, 100 * KIB), (mapped, 8 * MIB)] {
        let usable = unsafe { dlmalloc_usable_size(block.ptr.cast()) };
        assert!(
            unsafe { heap.realloc(block.ptr, grown) }.is_null(),
            "{name}: realloc to {grown}"
        );
        block.verify("block after a failed realloc");
        assert_eq!(
            unsafe { dlmalloc_usable_size(block.ptr.cast()) },
            usable,
            "{name}: a failed realloc changed the block's size"
        );
        assert!(
            unsafe { heap.realloc_in_place(block.ptr, grown) }.is_null(),
            "{name}: realloc_in_place to {grown}"
        );
        block.verify("block after a failed realloc_in_place");
    }
    assert!(
        independent_calloc(heap, 3, 100).is_null(),
        "{name}: independent_calloc"
    );
    let mut out = [UNTOUCHED; 3];
    assert!(
        !independent_comalloc(heap, &[10, 200, 3000], &mut out),
        "{name}: independent_comalloc"
    );
    assert_eq!(
        out, [UNTOUCHED; 3],
        "{name}: a failed comalloc wrote its array"
    );
    if heap == Heap::GLOBAL {
        let mut pp = UNTOUCHED;
        assert_eq!(unsafe { dlposix_memalign(&mut pp, 64, 100) }, ENOMEM);
        assert_eq!(unsafe { dlposix_memalign(&mut pp, MIB, 1) }, ENOMEM);
        assert_eq!(pp, UNTOUCHED, "a failed posix_memalign wrote *pp");
        assert!(unsafe { dlvalloc(1) }.is_null(), "valloc");
        assert!(unsafe { dlpvalloc(1) }.is_null(), "pvalloc");
    }
}

/// Every allocating routine of `heap` succeeds; everything it returns is
/// freed again.
fn every_routine_works(heap: Heap, small: &mut Block) {
    let name = heap.name();
    let mut got = Vec::new();
    for size in [1, 100, 64 * KIB, 8 * MIB] {
        let p = heap.malloc(size);
        assert!(!p.is_null(), "{name}: malloc({size}) after recovery");
        got.push(p);
        let p = heap.calloc(1, size);
        assert!(!p.is_null(), "{name}: calloc(1, {size}) after recovery");
        assert!(
            unsafe { core::slice::from_raw_parts(p, size) }
                .iter()
                .all(|&b| b == 0),
            "{name}: calloc memory is not zero"
        );
        got.push(p);
    }
    for align in [64, 4096, MIB] {
        let p = heap.memalign(align, 1);
        assert!(!p.is_null() && p as usize % align == 0, "{name}: memalign");
        got.push(p);
    }
    let grown = unsafe { heap.realloc(small.ptr, 100 * KIB) };
    assert!(!grown.is_null(), "{name}: growing realloc after recovery");
    small.ptr = grown;
    small.verify("block grown after recovery");
    let array = independent_calloc(heap, 3, 100);
    assert!(
        !array.is_null(),
        "{name}: independent_calloc after recovery"
    );
    for i in 0..3 {
        got.push(unsafe { *array.add(i) }.cast());
    }
    got.push(array.cast());
    let mut out = [null_mut(); 3];
    assert!(independent_comalloc(heap, &[10, 200, 3000], &mut out));
    got.extend(out.iter().map(|p| p.cast::<u8>()));
    if heap == Heap::GLOBAL {
        let mut pp = null_mut();
        assert_eq!(unsafe { dlposix_memalign(&mut pp, 64, 100) }, 0);
        got.push(pp.cast());
        got.push(unsafe { dlvalloc(1) }.cast());
        got.push(unsafe { dlpvalloc(1) }.cast());
    }
    assert!(got.iter().all(|p| !p.is_null()), "{name}: a null result");
    for p in got {
        unsafe { heap.free(p) };
    }
}

/// The whole scenario on one heap; `others` are the other live heaps (for
/// the platform's accounting).
fn scenario(heap: Heap, others: &[Heap]) {
    let name = heap.name();
    let all: Vec<Heap> = others.iter().copied().chain([heap]).collect();
    let mut blocks = populate(heap);
    assert!(
        heap.mallinfo().hblks >= 1,
        "{name}: the 4 MiB block is not directly mapped"
    );
    let footprint = heap.footprint();
    let before = faults::counters();

    faults::fail_mmap_after(0);
    let filler = exhaust(heap, 5000);
    assert!(
        faults::counters().mmap_failures > before.mmap_failures,
        "{name}: exhausting the heap never asked the system"
    );
    every_routine_fails(heap, blocks[1], blocks[4]);
    assert_eq!(
        heap.footprint(),
        footprint,
        "{name}: failures moved the footprint"
    );
    assert_clean(heap, &format!("{name}, out of memory"));
    assert_accounting(&all, 0, &format!("{name}, out of memory"));
    verify_all(&blocks, "block while out of memory");
    verify_all(&filler, "filler while out of memory");

    // Shrinking and freeing need no system memory, and freed memory is
    // reused without it.
    let calls = faults::counters().mmap_calls;
    let shrunk = unsafe { heap.realloc(blocks[3].ptr, 1000) };
    assert_eq!(shrunk, blocks[3].ptr, "{name}: in-place shrink failed");
    blocks[3].verify_prefix(1000, "shrunk block");
    blocks[3].len = 1000;
    let p = heap.malloc(30 * KIB);
    assert!(
        !p.is_null(),
        "{name}: the space a shrink freed is not reused"
    );
    unsafe { heap.free(p) };
    let last = filler[filler.len() / 2];
    unsafe { heap.free(last.ptr) };
    let again = heap.malloc(last.len);
    assert!(!again.is_null(), "{name}: a freed block is not reused");
    unsafe { heap.free(again) };
    let filler: Vec<Block> = filler.into_iter().filter(|b| b.ptr != last.ptr).collect();
    assert_eq!(
        faults::counters().mmap_calls,
        calls,
        "{name}: reuse asked the system"
    );
    assert_clean(heap, &format!("{name}, after shrinking and reusing"));

    faults::stop_failing_mmap();
    every_routine_works(heap, &mut blocks[1]);
    assert_clean(heap, &format!("{name}, after recovery"));
    assert_accounting(&all, 0, &format!("{name}, after recovery"));
    free_all(heap, filler, "filler at the end");
    free_all(heap, blocks, "block at the end");
    heap.trim(0);
    assert_clean(heap, &format!("{name}, at the end"));
    assert_accounting(&all, 0, &format!("{name}, at the end"));
}

#[test]
fn global_heap_out_of_memory() {
    let _only_me = faults::exclusive();
    scenario(Heap::GLOBAL, &[]);
}

#[test]
fn global_heap_out_of_memory_with_null_failures() {
    let _only_me = faults::exclusive();
    faults::mmap_fails_with_null(true);
    scenario(Heap::GLOBAL, &[]);
}

#[test]
fn mspace_out_of_memory() {
    let _only_me = faults::exclusive();
    let before = faults::counters();
    faults::fail_mmap_after(0);
    assert!(unsafe { create_mspace(0, 1) }.is_null());
    assert!(unsafe { create_mspace(MIB, 0) }.is_null());
    let after = faults::counters();
    assert_eq!(after.mmap_failures - before.mmap_failures, 2);
    assert_eq!(after.mapped_bytes, before.mapped_bytes);

    faults::reset();
    let space = Space::create(0, true);
    scenario(space.heap(), &[Heap::GLOBAL]);
    let footprint = space.heap().footprint();
    assert_eq!(space.destroy(), footprint);
    assert_accounting(&[Heap::GLOBAL], 0, "after destroy_mspace");
}

#[test]
fn mspace_in_caller_memory_out_of_memory() {
    let _only_me = faults::exclusive();
    let mut region = vec![0u64; MIB / 8];
    let base = region.as_mut_ptr().cast::<c_void>();
    faults::fail_mmap_after(0);
    let msp = unsafe { create_mspace_with_base(base, MIB, 0) };
    assert!(
        !msp.is_null(),
        "a heap in caller memory needs no system memory"
    );
    let heap = unsafe { Heap::mspace(msp) };
    let created = heap.footprint();
    let filler = exhaust(heap, 7000);
    assert!(!filler.is_empty());
    every_routine_fails(heap, filler[filler.len() - 1], filler[filler.len() - 2]);
    assert_clean(heap, "caller memory, full");
    assert_eq!(
        heap.footprint(),
        created,
        "a full region moved the footprint"
    );

    faults::reset();
    let more = heap.malloc(1000);
    assert!(
        !more.is_null(),
        "the full heap did not grow with new memory"
    );
    let grown = heap.footprint() - created;
    let page = faults::custom_page_size();
    assert!(grown > 0 && faults::is_mapped(more as usize & !(page - 1), page));
    assert_clean(heap, "caller memory, grown");
    verify_all(&filler, "filler in caller memory");
    unsafe { heap.free(more) };
    let mapped = faults::counters().mapped_bytes;
    assert_eq!(
        unsafe { destroy_mspace(msp) },
        grown,
        "destroy released more than the mapped part"
    );
    assert_eq!(faults::counters().mapped_bytes, mapped - grown);
    // The caller's region was never given to munmap: it is still writable.
    region.fill(7);
    assert!(region.iter().all(|&w| w == 7));
}
