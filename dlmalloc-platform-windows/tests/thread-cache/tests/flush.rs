//! `flush_thread_caches` empties the caches of threads that are still
//! running (it stops them with `FlushProcessWriteBuffers`): afterwards the
//! heaps count only the blocks the program holds, the heap check is clean,
//! and the threads' caches go on working.
#![cfg(windows)]

use std::sync::{Arc, Barrier};
use std::thread;

use dlmalloc::DLMalloc;
// The hooks the core calls.
use dlmalloc_platform_windows as _;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

const THREADS: usize = 8;

/// The harness's own thread may allocate a little meanwhile; the cached
/// bytes are far more.
const ALLOWANCE: usize = 4 << 10;

/// In use as the heaps count it: cached blocks included.
fn in_use_by_the_heaps() -> usize {
    GLOBAL.stats_unflushed().in_use_bytes
}

#[test]
fn flush_empties_the_caches_of_live_threads() {
    let barrier = || Arc::new(Barrier::new(THREADS + 1));
    let (started, measured, cached, checked) = (barrier(), barrier(), barrier(), barrier());
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (started, measured, cached, checked) = (
                started.clone(),
                measured.clone(),
                cached.clone(),
                checked.clone(),
            );
            thread::spawn(move || {
                // The first small allocation sets the thread's cache up.
                drop(std::hint::black_box(vec![0u8; 1]));
                started.wait();
                measured.wait();
                let blocks: Vec<Box<[u8]>> = (0..500)
                    .map(|i| vec![t as u8; (i * 13 + t) % 700 + 1].into())
                    .collect();
                drop(blocks);
                cached.wait(); // the blocks are in this live thread's cache
                checked.wait(); // stays alive while the main thread looks
                let again: Vec<Box<[u8]>> = (0..500).map(|i| vec![7; i % 300 + 1].into()).collect();
                assert!(again.iter().all(|b| b.iter().all(|&x| x == 7)));
            })
        })
        .collect();
    started.wait();
    GLOBAL.flush_thread_caches();
    let baseline = in_use_by_the_heaps();
    measured.wait();
    cached.wait();
    let cached_bytes = in_use_by_the_heaps().saturating_sub(baseline);
    assert!(
        cached_bytes > THREADS * (32 << 10),
        "the live threads cached only {cached_bytes} bytes"
    );
    GLOBAL.flush_thread_caches();
    let left = in_use_by_the_heaps().saturating_sub(baseline);
    assert!(
        left < ALLOWANCE,
        "{left} bytes still counted in use after the flush"
    );
    GLOBAL.heap_check().unwrap();
    checked.wait();
    for worker in workers {
        worker.join().unwrap();
    }
    GLOBAL.heap_check().unwrap();
}
