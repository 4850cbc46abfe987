//! A locked `Mspace` is `Sync`: eight threads share `&heap`, allocate,
//! hand blocks to each other and free them, and every block keeps its
//! contents. (That an unlocked `Mspace` is not `Sync` is a `compile_fail`
//! doc test on `Mspace`.)

use std::sync::mpsc;
use std::thread;

use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;

use dlmalloc::{Locked, Mspace, Unlocked};
use dlmalloc_platform_std as _;

const THREADS: u64 = 8;
const ROUNDS: u64 = 300;

fn is_send<T: Send>() {}
fn is_sync<T: Sync>() {}

#[test]
fn the_marker_types_decide_sync() {
    is_send::<Mspace<Unlocked>>();
    is_send::<Mspace<Locked>>();
    is_sync::<Mspace<Locked>>();
    // A collection in a locked heap may move to another thread.
    is_send::<Vec<u8, &Mspace<Locked>>>();
}

/// The value at index `i` of block `n` made by thread `t`.
fn value(t: u64, n: u64, i: usize) -> u64 {
    (t << 48) ^ (n << 20) ^ i as u64
}

#[test]
fn threads_share_a_locked_heap() {
    let heap = Mspace::new_locked(1 << 20);
    let checked = thread::scope(|s| {
        let (send, receive) = mpsc::channel::<(u64, u64, Vec<u64, &Mspace<Locked>>)>();
        let producers: std::vec::Vec<_> = (0..THREADS)
            .map(|t| {
                let (heap, send) = (&heap, send.clone());
                s.spawn(move || {
                    let mut kept = std::vec::Vec::new();
                    for n in 0..ROUNDS {
                        let len = ((t * 7919 + n * 104_729) % 3000) as usize;
                        let mut block = Vec::with_capacity_in(len / 2, heap);
                        block.extend((0..len).map(|i| value(t, n, i)));
                        let tag = Box::new_in((t, n), heap);
                        assert_eq!(*tag, (t, n));
                        if n % 2 == 0 {
                            send.send((t, n, block)).unwrap();
                        } else {
                            kept.push((n, block));
                        }
                        if kept.len() > 20 {
                            let (n, block) = kept.remove(0);
                            assert!(block.iter().enumerate().all(|(i, &x)| x == value(t, n, i)));
                        }
                    }
                    for (n, block) in kept {
                        assert!(block.iter().enumerate().all(|(i, &x)| x == value(t, n, i)));
                    }
                })
            })
            .collect();
        drop(send);
        // The blocks sent over are verified and freed by this thread.
        let mut checked = 0;
        for (t, n, mut block) in receive {
            assert!(block.iter().enumerate().all(|(i, &x)| x == value(t, n, i)));
            block.shrink_to(block.len() / 3);
            checked += 1;
        }
        for producer in producers {
            producer.join().unwrap();
        }
        checked
    });
    assert_eq!(checked, THREADS * ROUNDS / 2);
    heap.heap_check().unwrap();
    assert!(heap.stats().in_use_bytes < heap.stats().footprint);
}
