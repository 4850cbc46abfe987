//! `MspaceAlloc` creates its heap lazily without a race: sixteen threads
//! whose first allocations meet all get blocks from one heap, the heaps of
//! the threads that lost the race are destroyed, and nothing leaks.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Barrier;
use std::thread;

use dlmalloc::MspaceAlloc;
use dlmalloc_platform_std as _;
use dlmalloc_platform_std::mapped_bytes;

const ROUNDS: usize = 100;
const THREADS: usize = 16;

/// What one thread saw: its block and the heap in use right after it.
struct Seen {
    block: usize,
    heap: usize,
}

#[test]
fn simultaneous_first_allocations_create_one_heap() {
    let before = mapped_bytes();
    for round in 0..ROUNDS {
        let allocator = MspaceAlloc::new(1 << 20);
        let layout = Layout::from_size_align(64 + round, 16).unwrap();
        let barrier = Barrier::new(THREADS);

        let seen: Vec<Seen> = thread::scope(|s| {
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (allocator, barrier) = (&allocator, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        // SAFETY: the layout has a non-zero size.
                        let block = unsafe { allocator.alloc(layout) };
                        assert!(!block.is_null(), "round {round}: thread {t} got null");
                        // SAFETY: a fresh block of `layout.size()` bytes.
                        unsafe { block.write_bytes(t as u8, layout.size()) };
                        let heap = allocator.raw_handle().expect("an allocation made the heap");
                        Seen {
                            block: block as usize,
                            heap: heap.as_ptr() as usize,
                        }
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });

        let heap = allocator.raw_handle().unwrap().as_ptr() as usize;
        assert!(
            seen.iter().all(|s| s.heap == heap),
            "round {round}: threads saw different heaps"
        );
        let mut blocks: Vec<usize> = seen.iter().map(|s| s.block).collect();
        blocks.sort_unstable();
        blocks.dedup();
        assert_eq!(blocks.len(), THREADS, "round {round}: blocks overlap");

        for (t, s) in seen.iter().enumerate() {
            let block = s.block as *mut u8;
            // SAFETY: each block is live and `layout.size()` bytes long.
            let bytes = unsafe { std::slice::from_raw_parts(block, layout.size()) };
            assert!(
                bytes.iter().all(|&b| b == t as u8),
                "round {round}: block {t} clobbered"
            );
            // SAFETY: allocated above with this layout; freed once.
            unsafe { allocator.dealloc(block, layout) };
        }
        allocator.heap_check().unwrap();
        assert!(allocator.stats().footprint >= 1 << 20);
        // SAFETY: every block is freed and the threads are joined.
        let released = unsafe { allocator.destroy() };
        assert!(released >= 1 << 20);
        assert!(!allocator.is_created());
        assert_eq!(
            mapped_bytes(),
            before,
            "round {round}: a heap (the winner's or a loser's) was not released"
        );
    }
}
