//! Several threads at once: some on the global heap (its lock is this
//! platform's lock hook), some each on its own mspace, so that several heaps
//! ask the page allocator for pages and give them back concurrently. Every
//! block's contents are verified; afterwards the heap checks clean and every
//! page is accounted for.

use dlmalloc::DLMalloc;
use dlmalloc_platform_baremetal::arena_stats;
use dlmalloc_sys::{create_mspace, destroy_mspace, dlmalloc_footprint};
use dlmalloc_test_support::{Heap, Rng, assert_pattern, fill};

const ARENA: usize = 16 << 20;
dlmalloc_platform_baremetal::static_arena!(ARENA);

const GLOBAL_THREADS: usize = 2;
const MSPACE_THREADS: usize = 2;
const ROUNDS: usize = 20_000;

/// Allocates, writes, verifies and frees blocks of varied sizes (large ones
/// are direct mappings: they go straight to the page allocator and back).
fn churn(heap: Heap, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut live: Vec<(*mut u8, usize, u64)> = Vec::new();
    for round in 0..ROUNDS {
        let r = rng.next_u64();
        if live.len() < 64 && r % 3 != 0 {
            let size = match r % 50 {
                0 => 300 << 10,
                1..=5 => 20 << 10,
                _ => 1 + (r >> 8) as usize % 1000,
            };
            let p = heap.malloc(size);
            assert!(!p.is_null(), "out of memory at round {round}");
            let tag = round as u64;
            // SAFETY: a live block of `size` bytes.
            unsafe { fill(p, 0, size, tag) };
            live.push((p, size, tag));
        } else if !live.is_empty() {
            let (p, size, tag) = live.swap_remove((r >> 16) as usize % live.len());
            // SAFETY: the block is live, verified, and freed once.
            unsafe {
                assert_pattern(p, 0, size, tag, &format!("round {round}"));
                heap.free(p);
            }
        }
    }
    for (p, _, _) in live {
        // SAFETY: live blocks, freed once.
        unsafe { heap.free(p) };
    }
}

#[test]
fn global_heap_and_mspaces_share_the_arena_concurrently() {
    std::thread::scope(|scope| {
        for t in 0..GLOBAL_THREADS {
            scope.spawn(move || churn(Heap::GLOBAL, 0x1234_5678 + t as u64));
        }
        for t in 0..MSPACE_THREADS {
            scope.spawn(move || {
                // SAFETY: creates an unlocked heap used by this thread only.
                let msp = unsafe { create_mspace(64 << 10, 0) };
                assert!(!msp.is_null());
                // SAFETY: live until destroyed below, used by this thread.
                churn(unsafe { Heap::mspace(msp) }, 0x9ABC_DEF0 + t as u64);
                // SAFETY: every block was freed; the heap is not used again.
                unsafe { destroy_mspace(msp) };
            });
        }
    });
    DLMalloc.heap_check().unwrap();
    // The mspaces gave everything back; what is left is the global heap's.
    let stats = arena_stats();
    // SAFETY: reads a counter of the global heap.
    let footprint = unsafe { dlmalloc_footprint() };
    assert_eq!(stats.total_bytes - stats.free_bytes, footprint, "{stats:?}");
}
