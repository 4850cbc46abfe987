//! With the thread cache (the hosted platform's default), blocks allocated
//! on one thread and freed on another are reused correctly: every block's
//! contents survive until its free, blocks never overlap, and afterwards the
//! statistics return to where they started and the heap check is clean.
#![cfg(any(target_os = "linux", windows))]

use core::alloc::{GlobalAlloc, Layout};
use std::sync::mpsc;
use std::thread;

use dlmalloc::DLMalloc;
use dlmalloc_platform_std as _;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// A raw block sent between threads.
struct Block(*mut u8, Layout, u8);
// SAFETY: the block is owned by whoever holds the message.
unsafe impl Send for Block {}

fn fill(block: &Block) {
    // SAFETY: the block has `layout.size()` bytes and is owned here.
    unsafe { core::ptr::write_bytes(block.0, block.2, block.1.size()) };
}

fn verify(block: &Block) {
    // SAFETY: as in `fill`.
    let bytes = unsafe { core::slice::from_raw_parts(block.0, block.1.size()) };
    assert!(
        bytes.iter().all(|&b| b == block.2),
        "a block changed while it was live"
    );
}

#[test]
fn producer_frees_nothing_consumer_frees_everything() {
    // The first round also makes std's one-time allocations (thread and
    // channel bookkeeping); the second must end exactly where it started.
    hand_over_blocks();
    let before = GLOBAL.stats().in_use_bytes;
    hand_over_blocks();
    let after = GLOBAL.stats();
    assert_eq!(after.in_use_bytes, before, "blocks were lost: {after}");
    GLOBAL.heap_check().unwrap();
}

/// A producer thread allocates 20,000 blocks of 1 to 1000 bytes and sends
/// them to a consumer thread, which verifies and frees every one.
fn hand_over_blocks() {
    let (sender, receiver) = mpsc::sync_channel::<Block>(64);
    let producer = thread::spawn(move || {
        for round in 0..20_000usize {
            let size = 1 + round * 37 % 1000;
            let layout = Layout::from_size_align(size, 8).unwrap();
            // SAFETY: non-zero size.
            let ptr = unsafe { DLMalloc.alloc(layout) };
            assert!(!ptr.is_null());
            let block = Block(ptr, layout, round as u8);
            fill(&block);
            sender.send(block).unwrap();
        }
    });
    let consumer = thread::spawn(move || {
        let mut held: Vec<Block> = Vec::new();
        for block in receiver {
            verify(&block);
            held.push(block);
            if held.len() == 50 {
                // Overlap check: the held blocks' ranges are disjoint.
                let mut ranges: Vec<(usize, usize)> = held
                    .iter()
                    .map(|b| (b.0.addr(), b.0.addr() + b.1.size()))
                    .collect();
                ranges.sort();
                assert!(
                    ranges.windows(2).all(|w| w[0].1 <= w[1].0),
                    "live blocks overlap"
                );
                for block in held.drain(..) {
                    verify(&block);
                    // SAFETY: allocated by DLMalloc with this layout.
                    unsafe { DLMalloc.dealloc(block.0, block.1) };
                }
            }
        }
        for block in held {
            // SAFETY: as above.
            unsafe { DLMalloc.dealloc(block.0, block.1) };
        }
    });
    producer.join().unwrap();
    consumer.join().unwrap();
}
