//! `DLMalloc::stats()` over the wasm platform: footprint grows with the
//! heap and equals what the platform handed out, in-use bytes follow live
//! blocks, and memory is never given back (wasm memory cannot shrink): a
//! large block comes from the heap and its space is reused once freed. The
//! checks of live blocks every platform makes come from
//! `testing/platform-behaviour/stats.rs`.

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;
use dlmalloc_platform_wasm::{PAGE_SIZE, WASM_PAGE_SIZE, memory_stats};

#[path = "../../testing/platform-behaviour/stats.rs"]
mod shared;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// The footprint equals the bytes the platform handed out (only the
/// global heap exists), and memory holds them.
fn check_accounting() {
    let stats = GLOBAL.stats();
    let memory = memory_stats();
    assert_eq!(stats.footprint, memory.handed_out);
    assert!(memory.heap_start + memory.handed_out <= memory.memory_size);
    assert_eq!(memory.memory_size % WASM_PAGE_SIZE, 0);
    assert_eq!(memory.heap_start % PAGE_SIZE, 0);
}

#[test]
fn footprint_and_in_use_follow_the_heap() {
    check_accounting();
    // 2000 live blocks of 1000 bytes, each with at most a few words of
    // overhead (plus the Vec that holds the pointers).
    let blocks = shared::LiveBlocks::allocate(2000, 16 * 1024);
    let (before, during) = (blocks.before, blocks.during);
    assert!(during.max_footprint >= during.footprint);
    check_accounting();
    GLOBAL.heap_check().unwrap();

    blocks.free();
    let after = GLOBAL.stats();
    assert_eq!(after.in_use_bytes, before.in_use_bytes);
    // Memory never shrinks: trimming releases nothing, and the footprint
    // stays what was handed out.
    assert!(!GLOBAL.trim(0));
    assert_eq!(GLOBAL.stats().footprint, during.footprint);
    check_accounting();
    GLOBAL.heap_check().unwrap();
}

#[test]
fn freed_large_blocks_stay_and_are_reused() {
    // Larger than all free heap space and than the core's threshold for a
    // mapping of its own, which it never makes here: such a mapping could
    // never be given back either.
    let size = GLOBAL.stats().free_bytes + (1 << 20);
    let layout = Layout::from_size_align(size, 8).unwrap();
    // SAFETY: non-zero size.
    let big = unsafe { GLOBAL.alloc(layout) };
    assert!(!big.is_null());
    let with_big = GLOBAL.stats();
    assert_eq!(with_big.mmapped_bytes, 0);
    assert!(with_big.in_use_bytes >= size);
    // SAFETY: live, freed once.
    unsafe { GLOBAL.dealloc(big, layout) };
    // The memory stays with the heap, free.
    let freed = GLOBAL.stats();
    assert_eq!(freed.footprint, with_big.footprint);
    assert!(freed.free_bytes >= size);
    check_accounting();
    GLOBAL.heap_check().unwrap();

    // Its memory serves new requests without growing the footprint.
    let small = Layout::from_size_align(100_000, 8).unwrap();
    let reused: Vec<*mut u8> = (0..8)
        // SAFETY: non-zero size.
        .map(|_| unsafe { GLOBAL.alloc(small) })
        .collect();
    assert!(reused.iter().all(|ptr| !ptr.is_null()));
    assert_eq!(GLOBAL.stats().footprint, with_big.footprint);
    for ptr in reused {
        // SAFETY: live blocks of this layout, freed once.
        unsafe { GLOBAL.dealloc(ptr, small) };
    }
    check_accounting();
    GLOBAL.heap_check().unwrap();
}
