//! Eight threads (more than the machine's cores) hammer the global heap
//! with 50 000 mixed operations each. Every block carries a pattern derived
//! from its owner; about a quarter of the blocks travel to another thread
//! through a channel, which verifies and frees them (cross-thread frees).
//! One thread runs the heap checker while the others keep working.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

mod common;

use core::ffi::c_void;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;

use common::{Rng, all_zero, assert_heap_ok, assert_pattern, fill};
use dlmalloc_sys::*;

const THREADS: usize = 8;
/// 50 000 operations per thread; a tenth under `debug-heap-walk`, where
/// every operation walks the whole heap with the lock held.
const OPS_PER_THREAD: usize = if cfg!(feature = "debug-heap-walk") {
    5_000
} else {
    50_000
};
const MAX_LIVE: usize = 500;

/// A block in flight or in a thread's table. The address is kept as an
/// integer so the block can cross threads (the heap is thread-safe).
struct Block {
    addr: usize,
    size: usize,
    /// The pattern seed; its top byte is the owning thread's number.
    seed: u64,
}

impl Block {
    fn ptr(&self) -> *mut c_void {
        self.addr as *mut c_void
    }

    fn verify(&self, what: &str) {
        unsafe { assert_pattern(self.ptr().cast(), 0, self.size, self.seed, what) };
    }
}

fn random_size(rng: &mut Rng) -> usize {
    match rng.below(1000) {
        0..=849 => rng.range(1, 512),
        850..=989 => rng.range(513, 32 << 10),
        _ => rng.range((32 << 10) + 1, 1 << 20),
    }
}

fn worker(id: usize, to_next: Sender<Block>, from_prev: Receiver<Block>) -> (usize, usize) {
    let mut rng = Rng::new(0x7EAD_0000 + id as u64);
    let mut live: Vec<Block> = Vec::new();
    let mut serial = 0u64;
    let mut sent = 0;
    let mut received = 0;
    let mut new_seed = || {
        serial += 1;
        ((id as u64) << 56) | serial
    };
    for op in 0..OPS_PER_THREAD {
        // Free what the previous thread handed over, after checking that
        // its owner's pattern survived the trip.
        while let Ok(b) = from_prev.try_recv() {
            assert_eq!((b.seed >> 56) as usize, (id + THREADS - 1) % THREADS);
            b.verify(&format!(
                "thread {id}: block received from thread {}",
                b.seed >> 56
            ));
            unsafe { dlfree(b.ptr()) };
            received += 1;
        }
        let roll = if live.len() >= MAX_LIVE {
            rng.range(50, 99)
        } else if live.is_empty() {
            rng.below(50)
        } else {
            rng.below(100)
        };
        match roll {
            0..=34 => {
                let size = random_size(&mut rng);
                let p = unsafe { dlmalloc(size) };
                assert!(
                    !p.is_null(),
                    "thread {id} op {op}: dlmalloc({size}) returned null"
                );
                assert_eq!(p as usize % MALLOC_ALIGNMENT, 0);
                let seed = new_seed();
                unsafe { fill(p.cast(), 0, size, seed) };
                live.push(Block {
                    addr: p as usize,
                    size,
                    seed,
                });
            }
            35..=42 => {
                let size = random_size(&mut rng);
                let p = unsafe { dlcalloc(1, size) };
                assert!(!p.is_null(), "thread {id} op {op}: dlcalloc returned null");
                assert!(
                    unsafe { all_zero(p.cast(), size) },
                    "thread {id}: calloc not zeroed"
                );
                let seed = new_seed();
                unsafe { fill(p.cast(), 0, size, seed) };
                live.push(Block {
                    addr: p as usize,
                    size,
                    seed,
                });
            }
            43..=49 => {
                let align = 1usize << rng.range(4, 14);
                let size = random_size(&mut rng);
                let p = unsafe { dlmemalign(align, size) };
                assert!(
                    !p.is_null(),
                    "thread {id} op {op}: dlmemalign returned null"
                );
                assert_eq!(
                    p as usize % align,
                    0,
                    "thread {id}: dlmemalign({align}) misaligned"
                );
                let seed = new_seed();
                unsafe { fill(p.cast(), 0, size, seed) };
                live.push(Block {
                    addr: p as usize,
                    size,
                    seed,
                });
            }
            50..=71 => {
                let b = live.swap_remove(rng.below(live.len()));
                b.verify(&format!("thread {id} op {op}: own block before free"));
                unsafe { dlfree(b.ptr()) };
            }
            72..=91 => {
                let i = rng.below(live.len());
                live[i].verify(&format!("thread {id} op {op}: block before realloc"));
                let new = random_size(&mut rng);
                let b = &mut live[i];
                let q = unsafe { dlrealloc(b.ptr(), new) };
                assert!(!q.is_null(), "thread {id} op {op}: dlrealloc returned null");
                let kept = b.size.min(new);
                let what = format!("thread {id} op {op}: prefix after realloc");
                unsafe { assert_pattern(q.cast(), 0, kept, b.seed, &what) };
                unsafe { fill(q.cast(), kept, new, b.seed) };
                b.addr = q as usize;
                b.size = new;
            }
            _ => {
                // Hand a block to the next thread: about a quarter of all
                // blocks end up freed by a thread that did not allocate them.
                let b = live.swap_remove(rng.below(live.len()));
                to_next.send(b).expect("the next thread hung up early");
                sent += 1;
            }
        }
        if id == 0 && op % 5000 == 4999 {
            // Concurrent with the other threads' operations.
            assert_heap_ok(&format!("thread 0 op {op}, others running"));
        }
    }
    for b in live {
        b.verify(&format!("thread {id}: block at the end"));
        unsafe { dlfree(b.ptr()) };
    }
    // Nothing more will be sent; drain until the previous thread is done.
    drop(to_next);
    for b in from_prev {
        b.verify(&format!(
            "thread {id}: late block from thread {}",
            b.seed >> 56
        ));
        unsafe { dlfree(b.ptr()) };
        received += 1;
    }
    (sent, received)
}

#[test]
fn threads_allocate_and_free_across_each_other() {
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| channel()).unzip();
    let mut receivers: Vec<Option<Receiver<Block>>> = receivers.into_iter().map(Some).collect();
    let mut handles = Vec::new();
    for id in 0..THREADS {
        // Thread `id` sends to thread `id + 1`, so it owns that sender and
        // receives on its own channel.
        let to_next = senders[(id + 1) % THREADS].clone();
        let from_prev = receivers[id].take().unwrap();
        handles.push(
            thread::Builder::new()
                .name(format!("dl-stress-{id}"))
                .spawn(move || worker(id, to_next, from_prev))
                .unwrap(),
        );
    }
    drop(senders);
    let mut totals = Vec::new();
    for handle in handles {
        totals.push(
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        );
    }
    let sent: usize = totals.iter().map(|t| t.0).sum();
    let received: usize = totals.iter().map(|t| t.1).sum();
    assert_eq!(sent, received, "blocks lost in transit");
    assert!(
        sent > THREADS * OPS_PER_THREAD / 50,
        "only {sent} blocks crossed threads"
    );
    eprintln!("{THREADS} threads, {sent} cross-thread frees");
    assert_heap_ok("after all threads finished");
}
