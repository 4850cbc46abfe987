//! Statistics, trim and the heap check see exactly what the program holds,
//! even while other threads keep blocks in their caches: `DLMalloc` stops
//! and empties every thread's cache first.
#![cfg(any(target_os = "linux", windows))]

use std::sync::{Arc, Barrier};
use std::thread;

use dlmalloc::DLMalloc;
use dlmalloc_platform_std as _;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// In use as the heaps count it: cached blocks included.
fn in_use_by_the_core() -> usize {
    GLOBAL.stats_unflushed().in_use_bytes
}

/// The test harness's own thread may allocate a little meanwhile (its
/// bookkeeping of the running test); the cached bytes are far more.
const ALLOWANCE: usize = 1024;

#[test]
fn stats_flush_the_caches_of_live_threads() {
    let started = Arc::new(Barrier::new(5));
    let measured = Arc::new(Barrier::new(5));
    let cached = Arc::new(Barrier::new(5));
    let checked = Arc::new(Barrier::new(5));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let barriers = (
                started.clone(),
                measured.clone(),
                cached.clone(),
                checked.clone(),
            );
            thread::spawn(move || {
                let (started, measured, cached, checked) = barriers;
                // The first small allocation sets the thread's cache up (and
                // std's thread-exit bookkeeping with it).
                drop(std::hint::black_box(vec![0u8; 1]));
                started.wait(); // the threads' own bookkeeping is allocated
                measured.wait();
                let blocks: Vec<Box<[u8]>> = (0..500)
                    .map(|i| vec![t as u8; (i * 13 + t) % 700 + 1].into())
                    .collect();
                drop(blocks);
                cached.wait(); // the blocks are now in this live thread's cache
                checked.wait(); // stay alive while the main thread looks
                // The cache still works after someone else emptied it.
                let again: Vec<Box<[u8]>> = (0..500).map(|i| vec![7; i % 300 + 1].into()).collect();
                assert!(again.iter().all(|b| b.iter().all(|&x| x == 7)));
            })
        })
        .collect();
    started.wait();
    let baseline = GLOBAL.stats().in_use_bytes;
    measured.wait();
    cached.wait();
    let cached_bytes = in_use_by_the_core() - baseline;
    assert!(
        cached_bytes > 64 * ALLOWANCE,
        "the live threads cached only {cached_bytes} bytes"
    );
    let exact = GLOBAL.stats();
    assert!(
        exact.in_use_bytes < baseline + ALLOWANCE,
        "stats counted cached blocks as in use: {} bytes more than before",
        exact.in_use_bytes - baseline
    );
    GLOBAL.heap_check().unwrap();
    checked.wait();
    for worker in workers {
        worker.join().unwrap();
    }
    GLOBAL.heap_check().unwrap();
}
