//! A footprint limit reached part-way through a workload. Past the limit,
//! allocations that need more system memory return null without the core
//! even asking the system (it checks the limit first), the footprint never
//! exceeds the limit, memory already in the heap stays usable, existing
//! blocks keep their contents, the heap checks clean, and raising or
//! removing the limit lets allocation resume. On the global heap and on an
//! mspace.

mod common;

use common::*;
use dlmalloc_fault_injection as faults;

/// Room under the limit above the footprint when the workload starts.
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
/// block; checks every result against the limit. Returns the live blocks.
fn run_into_limit(heap: Heap, all: &[Heap], limit: usize, refusals: usize) -> Vec<Block> {
    let name = heap.name();
    let mut live = Vec::new();
    let mut failed = 0;
    let mut step = 0;
    while failed < refusals {
        step += 1;
        assert!(step < 100_000, "{name}: the limit never stopped allocation");
        let size = size(step);
        let before = faults::counters();
        let p = heap.malloc(size);
        let after = faults::counters();
        assert!(
            heap.footprint() <= limit,
            "{name}: footprint {} over the limit {limit}",
            heap.footprint()
        );
        if p.is_null() {
            assert_eq!(
                after.mmap_failures, before.mmap_failures,
                "{name}: the core asked the system for memory past its footprint limit"
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
    let start = heap.footprint();
    let limit = heap.set_footprint_limit(start + HEADROOM);
    assert_eq!(
        limit,
        start + HEADROOM,
        "{name}: a page-multiple limit was changed"
    );
    let mut live = run_into_limit(heap, all, limit, 20);
    let used = heap.footprint() - start;
    eprintln!("{name}: {used} of {HEADROOM} bytes of headroom used before the limit stopped it");
    assert!(
        used >= HEADROOM * 3 / 4,
        "{name}: only {used} of {HEADROOM} bytes of headroom were usable"
    );
    verify_all(&live, "block under the limit");
    assert_clean(heap, &format!("{name}, at the limit"));

    // Memory already in the heap stays usable at the limit.
    let freed = live.swap_remove(0);
    heap.free(freed.ptr);
    let again = heap.malloc(freed.len);
    assert!(
        !again.is_null(),
        "{name}: freed memory is unusable at the limit"
    );
    live.push(Block::fill(again, freed.len, 99));

    // A limit below the footprint refuses all growth, and frees still work.
    let tiny = heap.set_footprint_limit(1);
    assert!(tiny < heap.footprint());
    let calls = faults::counters().mmap_calls;
    assert!(
        heap.malloc(8 * MIB).is_null(),
        "{name}: grew under a tiny limit"
    );
    assert!(heap.memalign(MIB, MIB).is_null());
    assert!(heap.calloc(1, 8 * MIB).is_null());
    let grown = heap.realloc(live[0].ptr, 8 * MIB);
    assert!(grown.is_null(), "{name}: realloc grew under a tiny limit");
    live[0].verify("block after a refused realloc");
    assert_eq!(
        faults::counters().mmap_calls,
        calls,
        "{name}: asked the system"
    );
    assert_clean(heap, &format!("{name}, under a tiny limit"));

    // Raising the limit lets allocation resume.
    let raised = heap.set_footprint_limit(heap.footprint() + 4 * MIB);
    let big = heap.malloc(2 * MIB);
    assert!(
        !big.is_null(),
        "{name}: 2 MiB failed after raising the limit"
    );
    live.push(Block::fill(big, 2 * MIB, 77));
    live.extend(run_into_limit(heap, all, raised, 5));
    verify_all(&live, "block after raising the limit");
    assert_clean(heap, &format!("{name}, at the raised limit"));

    // Removing it too.
    assert_eq!(heap.set_footprint_limit(0), usize::MAX);
    let bigger = heap.malloc(16 * MIB);
    assert!(!bigger.is_null(), "{name}: 16 MiB failed without a limit");
    heap.free(bigger);
    free_all(heap, live, "block at the end");
    heap.trim(0);
    assert_clean(heap, &format!("{name}, at the end"));
    assert_accounting(all, 0, &format!("{name}, at the end"));
}

#[test]
fn global_heap_reaches_its_footprint_limit() {
    let _only_me = faults::exclusive();
    scenario(Heap::Global, &[Heap::Global]);
}

#[test]
fn mspace_reaches_its_footprint_limit() {
    let _only_me = faults::exclusive();
    let space = Space::create(0, true);
    scenario(space.heap(), &[Heap::Global, space.heap()]);
    let footprint = space.heap().footprint();
    assert_eq!(space.destroy(), footprint);
}
