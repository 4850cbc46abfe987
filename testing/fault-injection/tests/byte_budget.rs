//! The system runs out part-way through a workload: `custom_mmap` refuses
//! every map that would bring the bytes mapped past a budget. Allocations
//! past it fail only when the system refused memory during them, the
//! budget is never exceeded, most of it is usable, the blocks already
//! allocated keep their contents, the heap checks clean, and raising the
//! budget lets allocation resume. On the global heap and on an mspace.

mod common;

use common::*;
use dlmalloc_fault_injection as faults;

/// Room under the budget above what is mapped when the workload starts.
const HEADROOM: usize = 6 * MIB;

/// Request sizes cycling through small, medium and directly mapped ones.
fn size(step: usize) -> usize {
    match step % 7 {
        0..=3 => 16 + (step * 37) % 3000,
        4 | 5 => 20 * KIB + (step * 101) % (100 * KIB),
        _ => MMAP_THRESHOLD + (step * 4099) % MIB,
    }
}

/// Allocates until `refusals` requests have failed, freeing every fifth
/// block; checks every result against the budget. Returns the live blocks.
fn run_into_budget(heap: Heap, all: &[Heap], budget: usize, refusals: usize) -> Vec<Block> {
    let name = heap.name();
    let mut live = Vec::new();
    let mut failed = 0;
    let mut step = 0;
    while failed < refusals {
        step += 1;
        assert!(
            step < 100_000,
            "{name}: the budget never stopped allocation"
        );
        let size = size(step);
        let before = faults::counters();
        let p = heap.malloc(size);
        let after = faults::counters();
        assert!(
            after.mapped_bytes <= budget,
            "{name}: {} bytes mapped, over the budget of {budget}",
            after.mapped_bytes
        );
        if p.is_null() {
            assert!(
                after.budget_refusals > before.budget_refusals,
                "{name}: malloc({size}) failed although the system refused nothing"
            );
            if failed == 0 {
                verify_all(&live, "block at the first refusal");
                assert_clean(heap, &format!("{name}, at the first refusal"));
                assert_accounting(all, 0, &format!("{name}, at the first refusal"));
            }
            failed += 1;
            continue;
        }
        live.push(Block::fill(p, size, step as u64));
        if step % 5 == 0 {
            let block = live.swap_remove(step % live.len());
            block.verify("block before free");
            heap.free(block.ptr);
        }
    }
    live
}

fn scenario(heap: Heap, all: &[Heap]) {
    let name = heap.name();
    let start = faults::counters().mapped_bytes;
    let budget = start + HEADROOM;
    faults::set_byte_budget(budget);
    let mut live = run_into_budget(heap, all, budget, 20);
    let used = faults::counters().mapped_bytes - start;
    eprintln!("{name}: {used} of {HEADROOM} bytes of headroom mapped before the budget stopped it");
    assert!(
        used >= HEADROOM * 3 / 4,
        "{name}: only {used} of {HEADROOM} bytes of headroom were usable"
    );
    verify_all(&live, "block under the budget");
    assert_clean(heap, &format!("{name}, at the budget"));
    assert_accounting(all, 0, &format!("{name}, at the budget"));

    // Raising the budget lets allocation resume, until the new budget.
    let raised = budget + 4 * MIB;
    faults::set_byte_budget(raised);
    let big = heap.malloc(2 * MIB);
    assert!(
        !big.is_null(),
        "{name}: 2 MiB failed after raising the budget by 4 MiB"
    );
    let big = Block::fill(big, 2 * MIB, 77);
    live.extend(run_into_budget(heap, all, raised, 5));
    live.push(big);
    verify_all(&live, "block after raising the budget");
    assert_clean(heap, &format!("{name}, at the raised budget"));

    faults::set_byte_budget(usize::MAX);
    let bigger = heap.malloc(16 * MIB);
    assert!(!bigger.is_null(), "{name}: 16 MiB failed without a budget");
    heap.free(bigger);
    free_all(heap, live, "block at the end");
    heap.trim(0);
    assert_clean(heap, &format!("{name}, at the end"));
    assert_accounting(all, 0, &format!("{name}, at the end"));
}

#[test]
fn global_heap_runs_into_the_budget() {
    let _only_me = faults::exclusive();
    scenario(Heap::Global, &[Heap::Global]);
}

#[test]
fn mspace_runs_into_the_budget() {
    let _only_me = faults::exclusive();
    let space = Space::create(0, true);
    scenario(space.heap(), &[Heap::Global, space.heap()]);
    let footprint = space.heap().footprint();
    assert_eq!(space.destroy(), footprint);
}
