//! Many threads allocate at once, through `DLMalloc` (Rust collections) and
//! through the C API (`dlmalloc`, `dlrealloc`, `dlfree`, `dlmemalign`),
//! with blocks of every size class, large ones (mappings of their own, so
//! the page hooks run concurrently too) and blocks freed by another thread.
//! Every block keeps its contents, and the heap is clean afterwards.

use std::sync::mpsc;
use std::thread;

use dlmalloc::DLMalloc;
use dlmalloc::raw::{dlfree, dlmalloc, dlmemalign, dlrealloc};
use dlmalloc_platform_windows::mapped_bytes;

mod common;

use common::{Rng, check, fill};

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

const THREADS: usize = 8;
const ROUNDS: usize = 4000;

/// An address that may cross threads (a block handed to another thread).
struct Block(usize, usize, usize);

/// One thread's work: a random mix of C-API allocations, reallocations and
/// frees, with its own blocks and with blocks another thread sent it.
fn worker(id: usize, send: mpsc::Sender<Block>, receive: mpsc::Receiver<Block>) {
    let mut rng = Rng::new(id as u64 + 1);
    let mut live: Vec<(usize, usize, usize)> = Vec::new();
    let mut strings = Vec::new();
    for round in 0..ROUNDS {
        let seed = id << 32 | round;
        let size = match rng.below(20) {
            0 => 200_000 + rng.below(400_000),
            1..=4 => 256 + rng.below(32_000),
            _ => 1 + rng.below(256),
        };
        // SAFETY: calls into the C API; every block is used within its
        // size and freed once, by this thread or by the one it is sent to.
        unsafe {
            let ptr = if rng.below(8) == 0 {
                dlmemalign(64 << rng.below(7), size)
            } else {
                dlmalloc(size)
            }
            .cast::<u8>();
            assert!(!ptr.is_null());
            fill(ptr, size.min(1024), seed);
            live.push((ptr as usize, size, seed));
            if live.len() > 64 || rng.below(3) == 0 {
                let (ptr, size, seed) = live.swap_remove(rng.below(live.len()));
                check(ptr as *const u8, size.min(1024), seed);
                match rng.below(3) {
                    0 => {
                        let grown = dlrealloc(ptr as *mut _, size + 5000).cast::<u8>();
                        assert!(!grown.is_null());
                        check(grown, size.min(1024), seed);
                        fill(grown, (size + 5000).min(1024), seed);
                        live.push((grown as usize, size + 5000, seed));
                    }
                    1 => send.send(Block(ptr, size, seed)).unwrap(),
                    _ => dlfree(ptr as *mut _),
                }
            }
            while let Ok(Block(ptr, size, seed)) = receive.try_recv() {
                check(ptr as *const u8, size.min(1024), seed);
                dlfree(ptr as *mut _);
            }
        }
        if round % 16 == 0 {
            strings.push(format!("thread {id} round {round}"));
            if strings.len() > 50 {
                strings.drain(..25);
            }
        }
    }
    for (ptr, size, seed) in live {
        // SAFETY: this thread's live blocks, freed once.
        unsafe {
            check(ptr as *const u8, size.min(1024), seed);
            dlfree(ptr as *mut _);
        }
    }
    assert!(strings.iter().all(|s| s.starts_with("thread ")));
    drop(send);
    // Blocks still in flight to this thread.
    for Block(ptr, size, seed) in receive {
        // SAFETY: blocks another thread gave up, freed once here.
        unsafe {
            check(ptr as *const u8, size.min(1024), seed);
            dlfree(ptr as *mut _);
        }
    }
}

#[test]
fn many_threads_allocate_at_once() {
    // Channel i feeds thread i; thread i sends to thread i + 1.
    let (mut senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel()).unzip();
    senders.rotate_left(1);
    let handles: Vec<_> = senders
        .into_iter()
        .zip(receivers)
        .enumerate()
        .map(|(id, (send, receive))| thread::spawn(move || worker(id, send, receive)))
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    GLOBAL.heap_check().unwrap();
    // Only the global heap exists: its footprint is what the platform
    // committed, after eight threads mapped and unmapped at once.
    assert_eq!(GLOBAL.stats().footprint, mapped_bytes());
}
