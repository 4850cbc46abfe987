//! The multi-threaded workloads: independent churn on several threads, and
//! a producer/consumer pair where every block is freed by the thread that
//! did not allocate it.

use core::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use crate::rng::Rng;
use crate::stamp;
use crate::table::ALIGN;
use crate::workloads::{Outcome, churn as churn_loop};

/// `threads` threads each churn their own table of 1000 live blocks of
/// 16..=1024 bytes for `steps` steps. Steps are counted over all threads.
pub fn churn(
    alloc: &(dyn GlobalAlloc + Sync),
    threads: usize,
    steps: usize,
    deadline: Instant,
    what: &str,
) -> Outcome {
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let what = format!("{what} thread {t}");
                scope
                    .spawn(move || churn_loop(alloc, 16, 1024, 1000, false, steps, deadline, &what))
            })
            .collect();
        let mut total = Outcome {
            steps: 0,
            capped: false,
            leaked: false,
        };
        for worker in workers {
            let outcome = worker.join().expect("a churn thread failed");
            total.steps += outcome.steps;
            total.capped |= outcome.capped;
            total.leaked |= outcome.leaked;
        }
        total
    })
}

/// Slots in the ring between producer and consumer.
const RING: usize = 1024;

/// A single-producer single-consumer ring of block addresses: a fixed array
/// and two counters, so handing a block over allocates nothing.
struct Ring {
    slots: Vec<AtomicUsize>,
    head: AtomicUsize,
    tail: AtomicUsize,
}

/// The size of the `n`-th block: 16..=1024 bytes, known to both threads so
/// the consumer can rebuild its layout and tag.
fn block_size(rng: &mut Rng) -> usize {
    rng.size(16, 1024)
}

/// A producer allocates `steps` blocks of 16..=1024 bytes and hands each to
/// a consumer thread, which checks and frees it.
pub fn producer_consumer(
    alloc: &(dyn GlobalAlloc + Sync),
    steps: usize,
    deadline: Instant,
    what: &str,
) -> Outcome {
    let ring = Ring {
        slots: (0..RING).map(|_| AtomicUsize::new(0)).collect(),
        head: AtomicUsize::new(0),
        tail: AtomicUsize::new(0),
    };
    let stop = AtomicBool::new(false);
    let seed = 0xc0ffee;
    thread::scope(|scope| {
        let consumer = scope.spawn(|| {
            let mut rng = Rng::new(seed);
            let mut taken = 0usize;
            loop {
                let tail = ring.tail.load(Ordering::Relaxed);
                if tail == ring.head.load(Ordering::Acquire) {
                    if stop.load(Ordering::Acquire) && tail == ring.head.load(Ordering::Acquire) {
                        return taken;
                    }
                    thread::yield_now();
                    continue;
                }
                let ptr = ring.slots[tail % RING].load(Ordering::Relaxed) as *mut u8;
                let size = block_size(&mut rng);
                // SAFETY: the producer stamped this live block of `size`
                // bytes and handed it over; nobody else touches it.
                unsafe {
                    stamp::check(ptr, size, stamp::tag(taken as u64 + 1), what);
                    alloc.dealloc(ptr, Layout::from_size_align(size, ALIGN).unwrap());
                }
                ring.tail.store(tail + 1, Ordering::Release);
                taken += 1;
            }
        });
        let mut rng = Rng::new(seed);
        let mut made = 0usize;
        let mut capped = false;
        while made < steps {
            if made % 1024 == 0 && made > 0 && Instant::now() > deadline {
                capped = true;
                break;
            }
            let head = ring.head.load(Ordering::Relaxed);
            if head - ring.tail.load(Ordering::Acquire) == RING {
                thread::yield_now();
                continue;
            }
            let size = block_size(&mut rng);
            let layout = Layout::from_size_align(size, ALIGN).unwrap();
            // SAFETY: non-zero size.
            let ptr = unsafe { alloc.alloc(layout) };
            stamp::check_fresh(ptr, layout, what);
            // SAFETY: a fresh block of `size` >= 16 bytes.
            unsafe { stamp::write(ptr, size, stamp::tag(made as u64 + 1)) };
            ring.slots[head % RING].store(ptr as usize, Ordering::Relaxed);
            ring.head.store(head + 1, Ordering::Release);
            made += 1;
        }
        stop.store(true, Ordering::Release);
        let taken = consumer.join().expect("the consumer thread failed");
        assert_eq!(taken, made, "{what}: the consumer lost blocks");
        Outcome {
            steps: made as u64,
            capped,
            leaked: false,
        }
    })
}
