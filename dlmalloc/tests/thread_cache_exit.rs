//! A thread's cached blocks go back to the heap when the thread exits. The
//! core's own counters (read through the raw API, which does not flush any
//! cache) show the blocks a thread caches while it runs. Once it is joined,
//! flushing the caches that are still registered (the joining thread's,
//! which takes the bookkeeping the join frees) must bring the count back:
//! an exited thread's cache is no longer registered, so whatever it had
//! not given back would stay counted as in use for good.
#![cfg(target_os = "linux")]

use std::thread;

use dlmalloc::{DLMalloc, raw};
use dlmalloc_platform_std as _;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// Room for a few bytes of std's own bookkeeping; far less than the thread
/// caches.
const JOIN_ALLOWANCE: usize = 1024;

fn in_use_by_the_core() -> usize {
    // SAFETY: mallinfo only reads the global heap's counters under its lock.
    unsafe { raw::dlmallinfo() }.uordblks
}

#[test]
fn exiting_thread_returns_its_cache() {
    // The first thread also makes std's one-time allocations.
    cache_and_exit();
    GLOBAL.flush_thread_caches();
    let before = in_use_by_the_core();
    let cached = cache_and_exit();
    assert!(
        cached > 16 * JOIN_ALLOWANCE,
        "the thread cached only {cached} bytes"
    );
    GLOBAL.flush_thread_caches();
    let left = in_use_by_the_core().saturating_sub(before);
    assert!(
        left < JOIN_ALLOWANCE,
        "the exiting thread kept {left} bytes of its cache"
    );
    GLOBAL.heap_check().unwrap();
}

/// Runs a thread that fills its cache and exits without flushing it;
/// returns how many more bytes the core counted in use just before the
/// thread ended than just before it started.
fn cache_and_exit() -> usize {
    let before = in_use_by_the_core();
    thread::spawn(move || {
        let blocks: Vec<Vec<u8>> = (1..2000).map(|i| vec![i as u8; i % 900 + 1]).collect();
        drop(blocks);
        in_use_by_the_core() - before
    })
    .join()
    .unwrap()
}
