//! A thread's cached blocks go back to the heaps when the thread exits.
//! Once it is joined, the statistics (which flush the caches that are still
//! registered, the joining thread's included) must count as in use what
//! they counted before the thread ran: an exited thread's cache is no
//! longer registered, so whatever it had not given back would stay counted
//! as in use for good. The thread's blocks lived in its arena, which the
//! statistics include.
#![cfg(any(target_os = "linux", windows))]

use std::thread;

use dlmalloc::DLMalloc;
use dlmalloc_platform_std as _;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// Room for a few bytes of std's own bookkeeping; far less than the thread
/// caches.
const JOIN_ALLOWANCE: usize = 1024;

fn in_use() -> usize {
    GLOBAL.stats().in_use_bytes
}

#[test]
fn exiting_thread_returns_its_cache() {
    // The first thread also makes std's one-time allocations.
    cache_and_exit();
    let before = in_use();
    cache_and_exit();
    let left = in_use().saturating_sub(before);
    assert!(
        left < JOIN_ALLOWANCE,
        "the exiting thread kept {left} bytes of its cache"
    );
    GLOBAL.heap_check().unwrap();
}

/// Runs a thread that fills its cache and exits without flushing it.
fn cache_and_exit() {
    thread::spawn(move || {
        let blocks: Vec<Vec<u8>> = (1..2000).map(|i| vec![i as u8; i % 900 + 1]).collect();
        drop(blocks);
    })
    .join()
    .unwrap()
}
