//! The per-thread arenas on Windows: a thread's small blocks come from its
//! arena, in one reservation of address space that the thread cache makes
//! itself (not through the platform, which commits what it maps); the
//! arenas commit pages as they grow, decommit them when they shrink, and
//! pages committed again read as zeros and hold data.
#![cfg(windows)]

use std::alloc::{GlobalAlloc, Layout};
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::thread;

use dlmalloc::DLMalloc;
use dlmalloc_platform_windows::mapped_bytes;
use dlmalloc_windows_thread_cache_tests::{
    ARENA_REGION, MIN_ARENAS, assert_pattern, patterned, reservation_of,
};

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// The tests compare process-wide figures, so they run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Blocks of the cache's and arenas' sizes, held by a thread.
fn hold_blocks(seed: usize, count: usize, len: usize) -> Vec<Box<[u8]>> {
    (0..count).map(|i| patterned(seed + i, len)).collect()
}

#[test]
fn live_threads_allocate_in_their_own_arenas() {
    let _serial = serial();
    let threads = 2;
    let held = Arc::new(Barrier::new(threads + 1));
    let checked = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (held, checked) = (held.clone(), checked.clone());
            thread::spawn(move || {
                let blocks = hold_blocks(t * 10_000, 4000, 1000);
                let first = blocks[0].as_ptr() as usize;
                held.wait();
                checked.wait();
                for (i, block) in blocks.iter().enumerate() {
                    assert_pattern(block, t * 10_000 + i);
                }
                first
            })
        })
        .collect();
    held.wait();
    // The arenas' memory is the heaps' (the statistics count it) but not the
    // platform's: so the footprint exceeds what the platform mapped by at
    // least the blocks the threads hold.
    let footprint = GLOBAL.stats_unflushed().footprint;
    let platform = mapped_bytes();
    checked.wait();
    let firsts: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(
        footprint >= platform + threads * 4000 * 1000,
        "footprint {footprint} bytes, the platform mapped {platform}: the arenas hold too little"
    );
    // Both threads' blocks lie in one reservation of every arena's region,
    // in two different regions (two live threads, at least four arenas).
    let reservation = reservation_of(firsts[0]);
    assert_eq!(reservation_of(firsts[1]).base, reservation.base);
    assert!(
        reservation.reserved >= MIN_ARENAS * ARENA_REGION,
        "{reservation:?}"
    );
    let slot = |at: usize| (at - reservation.base) / ARENA_REGION;
    assert_ne!(
        slot(firsts[0]),
        slot(firsts[1]),
        "two live threads share an arena"
    );
    GLOBAL.heap_check().unwrap();
}

#[test]
fn arenas_commit_on_demand_and_decommit_what_they_give_back() {
    let _serial = serial();
    const COUNT: usize = 2000;
    const LEN: usize = 16 << 10;
    // A thread fills its arena with 32 MiB, frees it and exits.
    let (first, grown) = thread::spawn(|| {
        let blocks = hold_blocks(0, COUNT, LEN);
        let first = blocks[0].as_ptr() as usize;
        let grown = reservation_of(first);
        drop(blocks);
        (first, grown)
    })
    .join()
    .unwrap();
    // Only what the arenas use is committed: not the whole reservation
    // (Windows charges commit whether pages are touched or not).
    assert!(grown.committed >= COUNT * LEN, "{grown:?}");
    assert!(
        grown.committed < grown.reserved / 4,
        "most of the arenas' reservation is committed: {grown:?}"
    );
    // The exiting thread gave its cache back to the arena, which trims its
    // free top: the pages are decommitted (and still reserved).
    GLOBAL.trim(0);
    let shrunk = reservation_of(first);
    assert_eq!(shrunk.base, grown.base);
    assert_eq!(shrunk.reserved, grown.reserved);
    assert!(
        shrunk.committed + COUNT * LEN / 2 <= grown.committed,
        "the arena kept its pages committed: {grown:?} then {shrunk:?}"
    );
    // A new thread grows the arenas again over the decommitted pages: they
    // read as zeros and keep what is written.
    thread::spawn(|| {
        let zeroed = Layout::from_size_align(LEN, 8).unwrap();
        let blank: Vec<usize> = (0..COUNT / 2)
            .map(|_| {
                // SAFETY: a non-zero size.
                let block = unsafe { GLOBAL.alloc_zeroed(zeroed) };
                assert!(!block.is_null());
                // SAFETY: the block has LEN bytes.
                let bytes = unsafe { core::slice::from_raw_parts(block, LEN) };
                assert!(bytes.iter().all(|&b| b == 0), "a zeroed block is not zero");
                block as usize
            })
            .collect();
        let blocks = hold_blocks(7, COUNT / 2, LEN);
        GLOBAL.heap_check().unwrap();
        for (i, block) in blocks.iter().enumerate() {
            assert_pattern(block, 7 + i);
        }
        for block in blank {
            // SAFETY: live blocks of this layout, freed once.
            unsafe { GLOBAL.dealloc(block as *mut u8, zeroed) };
        }
    })
    .join()
    .unwrap();
    GLOBAL.heap_check().unwrap();
}
