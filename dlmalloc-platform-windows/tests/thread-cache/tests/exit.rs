//! Threads that exit while their caches hold blocks give them back: once
//! they are joined, the heaps count as in use what they counted before the
//! threads ran, even without a flush (an exited thread's cache is no longer
//! registered, so nothing else would ever give its blocks back).
#![cfg(windows)]

use std::sync::{Arc, Barrier};
use std::thread;

use dlmalloc::DLMalloc;
// The hooks the core calls.
use dlmalloc_platform_windows as _;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

const THREADS: usize = 8;

/// Room for a little of std's and the harness's own bookkeeping, in the
/// joining thread's cache too; far less than the exiting threads cache.
const ALLOWANCE: usize = 8 << 10;

/// Runs threads that fill their caches and exit without a flush; returns
/// the bytes they had cached (counted as in use) just before they exited.
fn cache_and_exit() -> usize {
    let filled = Arc::new(Barrier::new(THREADS + 1));
    let measured = Arc::new(Barrier::new(THREADS + 1));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (filled, measured) = (filled.clone(), measured.clone());
            thread::spawn(move || {
                let blocks: Vec<Vec<u8>> = (1..2000)
                    .map(|i| vec![t as u8; (i * 7 + t) % 900 + 1])
                    .collect();
                drop(blocks);
                filled.wait(); // the blocks are now in this thread's cache
                measured.wait();
            })
        })
        .collect();
    filled.wait();
    let cached = GLOBAL.stats_unflushed().in_use_bytes;
    measured.wait();
    for worker in workers {
        worker.join().unwrap();
    }
    cached
}

#[test]
fn exiting_threads_return_their_caches() {
    // The first round also makes std's one-time allocations.
    cache_and_exit();
    let before = GLOBAL.stats().in_use_bytes;
    let cached = cache_and_exit().saturating_sub(before);
    // The test can fail: the threads did hold many blocks in their caches.
    assert!(
        cached > THREADS * (64 << 10),
        "the threads cached only {cached} bytes"
    );
    let left = GLOBAL.stats_unflushed().in_use_bytes.saturating_sub(before);
    assert!(
        left < ALLOWANCE,
        "the exited threads kept {left} bytes of their caches"
    );
    let exact = GLOBAL.stats().in_use_bytes.saturating_sub(before);
    assert!(exact < ALLOWANCE, "{exact} bytes more in use than before");
    GLOBAL.heap_check().unwrap();
}
