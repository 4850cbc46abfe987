//! Threads allocating at once while the system runs out: a byte budget
//! makes `custom_mmap` refuse part-way, and munmap fails now and then.
//! Every thread's blocks keep their contents, the budget is never exceeded,
//! the heaps check clean afterwards and their footprints equal what the
//! platform has mapped. On the global heap and on one locked mspace shared
//! by the threads.

mod common;

use std::thread;

use common::workload::{Rng, size};
use common::*;
use dlmalloc_fault_injection as faults;

const THREADS: u64 = 4;
const STEPS: u64 = 1500;

/// A mix of allocations and frees on `heap` from one thread; returns how
/// many allocations failed. Every block is verified before it is freed.
fn worker(heap: Heap, seed: u64, budget: usize) -> usize {
    let mut rng = Rng::new(seed);
    let mut live: Vec<Block> = Vec::new();
    let mut failed = 0;
    for step in 0..STEPS {
        if live.len() > 40 || (rng.below(3) == 0 && !live.is_empty()) {
            let block = live.swap_remove(rng.below(live.len()));
            block.verify("block before free");
            // SAFETY: a live block of this heap, freed once.
            unsafe { heap.free(block.ptr) };
            continue;
        }
        let size = size(&mut rng);
        let p = heap.malloc(size);
        assert!(faults::counters().mapped_bytes <= budget, "over the budget");
        if p.is_null() {
            failed += 1;
        } else {
            live.push(Block::fill(p, size, seed * 1_000_000 + step));
        }
    }
    free_all(heap, live, "block at the end of a thread");
    failed
}

fn scenario(heap: Heap, all: &[Heap]) {
    let name = heap.name();
    let before = faults::counters();
    let budget = faults::counters().mapped_bytes + 12 * MIB;
    faults::set_byte_budget(budget);
    faults::fail_munmap_after(3);
    let failed: usize = thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let handle = SendHeap(heap);
                s.spawn(move || worker(handle.get(), 0x7EAD + t, budget))
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let after = faults::counters();
    let refusals = after.budget_refusals - before.budget_refusals;
    eprintln!(
        "{name}: {failed} allocations failed; {refusals} budget refusals, {} failed munmaps",
        after.munmap_failures - before.munmap_failures
    );
    assert!(refusals > 0, "{name}: the threads never reached the budget");
    assert_clean(heap, &format!("{name}, after the threads"));
    assert_accounting(all, 0, &format!("{name}, after the threads"));
    faults::reset();
    heap.trim(0);
    assert_clean(heap, &format!("{name}, trimmed"));
    assert_accounting(all, 0, &format!("{name}, trimmed"));
}

/// A heap handle that may cross threads: the global heap and a locked
/// mspace take a lock in every operation.
#[derive(Clone, Copy)]
struct SendHeap(Heap);

// SAFETY: only used with the global heap and with mspaces created locked,
// whose operations are thread-safe.
unsafe impl Send for SendHeap {}

impl SendHeap {
    fn get(self) -> Heap {
        self.0
    }
}

#[test]
fn global_heap_threads_under_budget() {
    let _only_me = faults::exclusive();
    scenario(Heap::GLOBAL, &[Heap::GLOBAL]);
}

#[test]
fn locked_mspace_threads_under_budget() {
    let _only_me = faults::exclusive();
    on_a_fresh_mspace(true, scenario);
}
