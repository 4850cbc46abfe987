//! Eight threads allocate and free at once, and free each other's blocks
//! (remote frees: a block goes back to the arena of the thread that
//! allocated it): every block keeps its contents, and afterwards the heaps
//! are clean and the bytes in use are back where they started.
#![cfg(windows)]

use std::sync::mpsc;
use std::thread;

use dlmalloc::DLMalloc;
// The hooks the core calls.
use dlmalloc_platform_windows as _;
use dlmalloc_windows_thread_cache_tests::{assert_pattern, patterned};

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

const THREADS: usize = 8;
const ROUNDS: usize = 50;
const PER_ROUND: usize = 48;

/// Room for the harness's and std's own bookkeeping meanwhile.
const ALLOWANCE: usize = 16 << 10;

/// Sizes across the cache's exact and stepped classes, the arenas' range
/// above the cache (up to 128 KiB) and the global heap's beyond it.
fn size(t: usize, round: usize, i: usize) -> usize {
    match (t + round + i) % 32 {
        0 => 33_000 + (i * 997) % 90_000,
        1 => 140_000,
        2..=9 => 1025 + (i * 389 + round) % 31_000,
        _ => 1 + (i * 37 + round * t) % 1024,
    }
}

#[test]
fn eight_threads_free_each_others_blocks() {
    let before = GLOBAL.stats().in_use_bytes;
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS)
        .map(|_| mpsc::channel::<Vec<Box<[u8]>>>())
        .unzip();
    let workers: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(t, from_left)| {
            let to_right = senders[(t + 1) % THREADS].clone();
            thread::spawn(move || {
                let left = (t + THREADS - 1) % THREADS;
                let mut kept = Vec::new();
                for round in 0..ROUNDS {
                    let seed = |i: usize| (t * ROUNDS + round) * PER_ROUND + i;
                    let mine: Vec<Box<[u8]>> = (0..PER_ROUND)
                        .map(|i| patterned(seed(i), size(t, round, i)))
                        .collect();
                    // Some of its own blocks the thread frees itself, later.
                    kept.push(patterned(seed(0) ^ 1, size(t, round, 3)));
                    if kept.len() > 40 {
                        kept.drain(..20);
                    }
                    to_right.send(mine).unwrap();
                    let theirs = from_left.recv().unwrap();
                    for (i, block) in theirs.iter().enumerate() {
                        let seed = (left * ROUNDS + round) * PER_ROUND + i;
                        assert_eq!(block.len(), size(left, round, i));
                        assert_pattern(block, seed);
                    }
                }
            })
        })
        .collect();
    drop(senders);
    for worker in workers {
        worker.join().unwrap();
    }
    GLOBAL.heap_check().unwrap();
    let now = GLOBAL.stats().in_use_bytes;
    assert!(
        now <= before + ALLOWANCE,
        "{} bytes more in use than before the threads ran",
        now.saturating_sub(before)
    );
}
