//! Out of memory under a 16 MiB maximum (this package's build script links
//! its tests with `--max-memory=16777216`): `memory.grow` fails, and every
//! allocation that needs more memory returns null, without a trap. After
//! frees, allocation works again.

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;
use dlmalloc_platform_wasm::{WASM_PAGE_SIZE, memory_stats};

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

const MAX_MEMORY: usize = 16 << 20;

/// Allocates blocks of `size` until one fails; returns them. The failure
/// must repeat (a null is not a fluke) and leave the heap intact.
fn fill(layout: Layout) -> Vec<*mut u8> {
    // Room for every pointer up front, so the Vec never needs the heap
    // while it is full.
    let mut blocks = Vec::with_capacity(MAX_MEMORY / layout.size() + 1);
    loop {
        // SAFETY: non-zero size.
        let ptr = unsafe { GLOBAL.alloc(layout) };
        if ptr.is_null() {
            break;
        }
        // SAFETY: a live block: touch its first and last byte.
        unsafe {
            ptr.write(0xC3);
            ptr.add(layout.size() - 1).write(0x3C);
        }
        blocks.push(ptr);
        assert!(blocks.len() < blocks.capacity(), "never ran out of memory");
    }
    for _ in 0..10 {
        // SAFETY: non-zero size.
        assert!(unsafe { GLOBAL.alloc(layout) }.is_null());
    }
    blocks
}

/// Frees what [`fill`] returned, checking the bytes it wrote.
fn free_all(blocks: Vec<*mut u8>, layout: Layout) {
    for ptr in blocks {
        // SAFETY: live blocks of this layout, freed once; first and last
        // byte as written.
        unsafe {
            assert_eq!(ptr.read(), 0xC3);
            assert_eq!(ptr.add(layout.size() - 1).read(), 0x3C);
            GLOBAL.dealloc(ptr, layout);
        }
    }
}

#[test]
fn allocation_returns_null_at_the_limit_and_recovers() {
    let small = Layout::from_size_align(4000, 8).unwrap();
    let large = Layout::from_size_align(300_000, 8).unwrap();
    let aligned = Layout::from_size_align(5000, 1 << 16).unwrap();

    // Small blocks until memory is exhausted.
    let blocks = fill(small);
    assert!(
        blocks.len() * small.size() > MAX_MEMORY / 2,
        "{}",
        blocks.len()
    );
    let memory = memory_stats();
    // The heap took (nearly) all memory after its start: when a doubled
    // growth step fails, the core retries with just what it needs.
    let footprint = GLOBAL.stats().footprint;
    assert!(
        memory.heap_start + footprint + WASM_PAGE_SIZE > MAX_MEMORY,
        "{footprint}"
    );
    assert!(memory.memory_size <= MAX_MEMORY);
    // Less than one more wasm page's worth could have been had.
    assert!(memory.memory_size + WASM_PAGE_SIZE > MAX_MEMORY - small.size());
    // Large and aligned requests fail as well; so do zeroed and realloc.
    // SAFETY: non-zero sizes.
    unsafe {
        assert!(GLOBAL.alloc(large).is_null());
        assert!(GLOBAL.alloc(aligned).is_null());
        assert!(GLOBAL.alloc_zeroed(large).is_null());
        assert!(GLOBAL.realloc(blocks[0], small, 1 << 20).is_null());
    }
    GLOBAL.heap_check().unwrap();
    let full = GLOBAL.stats();
    assert_eq!(full.footprint, memory_stats().handed_out);

    // Free everything: the memory is reused (it never goes back to the
    // engine), for large blocks too.
    free_all(blocks, small);
    GLOBAL.heap_check().unwrap();
    let blocks = fill(large);
    assert!(
        blocks.len() * large.size() > MAX_MEMORY / 2,
        "{}",
        blocks.len()
    );
    free_all(blocks, large);
    let blocks = fill(aligned);
    assert!(blocks.len() > 100, "{}", blocks.len());
    free_all(blocks, aligned);
    GLOBAL.heap_check().unwrap();

    // And small blocks fill it again, to about the same count.
    let again = fill(small);
    assert!(again.len() * small.size() > MAX_MEMORY / 2);
    free_all(again, small);
    assert!(GLOBAL.stats().footprint <= MAX_MEMORY);
    GLOBAL.heap_check().unwrap();
}
