//! The per-thread arenas behind the thread caches: blocks freed by another
//! thread than the one that allocated them, threads that outnumber the
//! arenas, arenas reused after their threads exit, blocks that outlive
//! their thread, C's `dlfree` and `dlrealloc` on blocks `DLMalloc` handed
//! out, and statistics that add up over all heaps. Each test ends with the
//! heaps checked and the bytes in use back where they started.
#![cfg(any(target_os = "linux", windows))]

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::thread;

use dlmalloc::{DLMalloc, raw};
use dlmalloc_platform_std as _;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// The tests compare process-wide figures, so they run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Room for the harness's and std's own bookkeeping meanwhile.
const ALLOWANCE: usize = 16 << 10;

/// A block filled with a pattern that names it.
fn patterned(seed: usize, len: usize) -> Box<[u8]> {
    (0..len).map(|i| (seed * 31 + i) as u8).collect()
}

fn assert_pattern(block: &[u8], seed: usize) {
    assert!(
        block
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (seed * 31 + i) as u8),
        "block {seed} was overwritten"
    );
}

/// The bytes in use once every arena that the tests' threads can take
/// exists. Each arena's heap keeps its state in a block of its own (about
/// 2.4 KiB), so arenas first created during a test would count against it:
/// 4 new ones were 9.6 KiB of the 16 KiB allowance, and under Wine, with
/// std's own per-thread bookkeeping, once more than all of it. So
/// [`THREADS`] threads, alive at once, each take an arena first (more
/// threads than arenas: every arena is created).
fn in_use_with_arenas_ready() -> usize {
    let all_alive = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let all_alive = Arc::clone(&all_alive);
            thread::spawn(move || {
                drop(patterned(t, 100));
                all_alive.wait();
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    GLOBAL.stats().in_use_bytes
}

/// Checks the heaps and that the bytes in use are back to `before`.
fn assert_back_to(before: usize, what: &str) {
    GLOBAL.heap_check().unwrap();
    let now = GLOBAL.stats().in_use_bytes;
    assert!(
        now <= before + ALLOWANCE,
        "{what}: {} bytes more in use than before",
        now.saturating_sub(before)
    );
}

#[test]
fn blocks_freed_by_other_threads_go_back_to_their_arena() {
    let _serial = serial();
    let before = in_use_with_arenas_ready();
    let (to_freer, freer_gets) = mpsc::channel::<Vec<Box<[u8]>>>();
    let freer = thread::spawn(move || {
        let mut freed = 0;
        for batch in freer_gets {
            for (i, block) in batch.iter().enumerate() {
                assert_pattern(block, i);
            }
            freed += batch.len();
        }
        freed
    });
    let producers: Vec<_> = (0..3)
        .map(|_| {
            let to_freer = to_freer.clone();
            thread::spawn(move || {
                for round in 0..200 {
                    let batch: Vec<Box<[u8]>> = (0..100)
                        .map(|i| patterned(i, 1 + (i * 37 + round) % 3000))
                        .collect();
                    to_freer.send(batch).unwrap();
                }
            })
        })
        .collect();
    drop(to_freer);
    for producer in producers {
        producer.join().unwrap();
    }
    assert_eq!(freer.join().unwrap(), 3 * 200 * 100);
    assert_back_to(before, "after cross-thread frees");
}

/// Threads in [`many_more_threads_than_arenas`] (and in
/// [`in_use_with_arenas_ready`]): far more than the arenas (four per core,
/// at most 32).
const THREADS: usize = 72;

#[test]
fn many_more_threads_than_arenas() {
    let _serial = serial();
    let before = in_use_with_arenas_ready();
    // Each thread frees its left neighbour's blocks as well as its own.
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS)
        .map(|_| mpsc::channel::<Vec<Box<[u8]>>>())
        .unzip();
    let workers: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(t, from_left)| {
            let to_right = senders[(t + 1) % senders.len()].clone();
            thread::spawn(move || {
                for round in 0..20 {
                    let mine: Vec<Box<[u8]>> = (0..64)
                        .map(|i| patterned(t + i, 8 + (i * 97 + round * t) % 5000))
                        .collect();
                    to_right.send(mine).unwrap();
                    let theirs = from_left.recv().unwrap();
                    let left = (t + THREADS - 1) % THREADS;
                    for (i, block) in theirs.iter().enumerate() {
                        assert_pattern(block, left + i);
                    }
                }
            })
        })
        .collect();
    drop(senders);
    for worker in workers {
        worker.join().unwrap();
    }
    assert_back_to(before, "after 72 threads");
}

#[test]
fn exited_threads_arenas_are_reused() {
    let _serial = serial();
    // One thread first, so the arenas exist and later footprints compare.
    thread::spawn(|| drop(patterned(0, 100))).join().unwrap();
    let before = GLOBAL.stats();
    for t in 0..120 {
        thread::spawn(move || {
            let blocks: Vec<Box<[u8]>> = (0..2000).map(|i| patterned(t + i, 1 + i % 700)).collect();
            for (i, block) in blocks.iter().enumerate() {
                assert_pattern(block, t + i);
            }
        })
        .join()
        .unwrap();
    }
    let after = GLOBAL.stats();
    // 120 threads each held about 0.7 MiB; with arenas reused (and their
    // memory reused) the heaps grow by far less than that in total.
    assert!(
        after.footprint < before.footprint + (32 << 20),
        "footprint grew from {} to {} bytes over 120 short threads",
        before.footprint,
        after.footprint
    );
    assert_back_to(before.in_use_bytes, "after 120 short threads");
}

#[test]
fn blocks_outlive_the_thread_that_allocated_them() {
    let _serial = serial();
    let before = in_use_with_arenas_ready();
    let kept: Vec<Box<[u8]>> = (0..8)
        .flat_map(|t| {
            thread::spawn(move || -> Vec<Box<[u8]>> {
                (0..500)
                    .map(|i| patterned(t * 1000 + i, 1 + i * 61 % 30_000))
                    .collect()
            })
            .join()
            .unwrap()
        })
        .collect();
    GLOBAL.heap_check().unwrap();
    for (n, block) in kept.iter().enumerate() {
        assert_pattern(block, (n / 500) * 1000 + n % 500);
    }
    drop(kept);
    assert_back_to(before, "after freeing blocks of exited threads");
}

#[test]
fn c_frees_and_resizes_blocks_from_dlmalloc() {
    let _serial = serial();
    let before = in_use_with_arenas_ready();
    // Blocks from a fresh thread's arena, freed and resized on this one
    // through the C API.
    let blocks: Vec<usize> = thread::spawn(|| {
        (1..400)
            .map(|size| {
                let layout = Layout::from_size_align(size * 10, 8).unwrap();
                // SAFETY: a non-zero size.
                let block = unsafe { DLMalloc.alloc(layout) };
                assert!(!block.is_null());
                // SAFETY: the block has `size * 10` bytes.
                unsafe { block.write_bytes(size as u8, size * 10) };
                block as usize
            })
            .collect()
    })
    .join()
    .unwrap();
    for (n, &block) in blocks.iter().enumerate() {
        let size = n + 1;
        let block = block as *mut c_void;
        // SAFETY: live blocks of DLMalloc, which the C API accepts; each is
        // resized or freed once.
        unsafe {
            if n % 2 == 0 {
                raw::dlfree(block);
            } else {
                let grown = raw::dlrealloc(block, size * 10 + 50_000).cast::<u8>();
                assert!(!grown.is_null());
                let kept = core::slice::from_raw_parts(grown, size * 10);
                assert!(kept.iter().all(|&b| b == size as u8), "dlrealloc lost data");
                raw::dlfree(grown.cast());
            }
        }
    }
    assert_back_to(before, "after dlfree and dlrealloc");
}

#[test]
fn statistics_add_up_over_all_heaps() {
    let _serial = serial();
    let kept: Vec<Box<[u8]>> = (0..4)
        .flat_map(|t| {
            thread::spawn(move || -> Vec<Box<[u8]>> {
                (0..300)
                    .map(|i| patterned(i, 1 + (i * t * 7) % 9000))
                    .collect()
            })
            .join()
            .unwrap()
        })
        .collect();
    let stats = GLOBAL.stats();
    // In use plus free is the footprint, summed over the global heap and
    // the arenas alike.
    assert_eq!(stats.in_use_bytes + stats.free_bytes, stats.footprint);
    // Every in-use byte the inspection reports is counted in use.
    let mut inspected = 0usize;
    extern "C" fn count(_: *mut c_void, _: *mut c_void, used: usize, total: *mut c_void) {
        // SAFETY: `total` is the `usize` passed below.
        unsafe { *total.cast::<usize>() += used };
    }
    // SAFETY: the handler only adds to the counter it is given.
    unsafe { raw::dlmalloc_inspect_all(Some(count), (&raw mut inspected).cast()) };
    let held: usize = kept.iter().map(|b| b.len()).sum();
    assert!(
        inspected >= held,
        "inspection saw {inspected} bytes in use, the program holds {held}"
    );
    assert!(
        inspected <= stats.in_use_bytes,
        "inspection saw more in use than the statistics"
    );
    drop(kept);
}
