//! A limit on a heap's memory reached part-way through a workload, of two
//! kinds:
//! - the system runs out: `custom_mmap` refuses every map that would bring
//!   the bytes mapped past a budget. Allocations past it fail only when the
//!   system refused memory during them, and the budget is never exceeded;
//! - the heap's footprint limit: allocations that need more system memory
//!   return null without the core even asking the system (it checks the
//!   limit first), and the footprint never exceeds the limit. Memory
//!   already in the heap stays usable, and a limit below the footprint
//!   refuses all growth.
//!
//! Either way most of the headroom is usable, the blocks already allocated
//! keep their contents, the heap checks clean, and raising or removing the
//! limit lets allocation resume. On the global heap and on an mspace.

mod common;

use common::*;
use dlmalloc_fault_injection as faults;

/// Room under the limit above what the heap holds when the workload starts.
const HEADROOM: usize = 6 * MIB;

/// What stops the heap from growing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// The platform's byte budget (`faults::set_byte_budget`).
    Budget,
    /// The heap's footprint limit.
    Footprint,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::Budget => "budget",
            Limit::Footprint => "limit",
        }
    }

    /// What the limit bounds: the bytes mapped, or the heap's footprint.
    fn measure(self, heap: Heap) -> usize {
        match self {
            Limit::Budget => faults::counters().mapped_bytes,
            Limit::Footprint => heap.footprint(),
        }
    }

    /// Sets the limit to `bytes` (`usize::MAX`: none); returns it.
    fn set(self, heap: Heap, bytes: usize) -> usize {
        match self {
            Limit::Budget => {
                faults::set_byte_budget(bytes);
                bytes
            }
            Limit::Footprint if bytes == usize::MAX => {
                assert_eq!(heap.set_footprint_limit(0), usize::MAX);
                bytes
            }
            Limit::Footprint => {
                let limit = heap.set_footprint_limit(bytes);
                assert_eq!(
                    limit,
                    bytes,
                    "{}: a page-multiple limit was changed",
                    heap.name()
                );
                limit
            }
        }
    }
}

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
fn run_into(kind: Limit, heap: Heap, all: &[Heap], limit: usize, refusals: usize) -> Vec<Block> {
    let (name, what) = (heap.name(), kind.name());
    let mut live = Vec::new();
    let mut failed = 0;
    let mut step = 0;
    while failed < refusals {
        step += 1;
        assert!(
            step < 100_000,
            "{name}: the {what} never stopped allocation"
        );
        let size = size(step);
        let before = faults::counters();
        let p = heap.malloc(size);
        let after = faults::counters();
        let held = kind.measure(heap);
        assert!(
            held <= limit,
            "{name}: {held} bytes mapped or held, over the {what} of {limit}"
        );
        if p.is_null() {
            match kind {
                Limit::Budget => assert!(
                    after.budget_refusals > before.budget_refusals,
                    "{name}: malloc({size}) failed although the system refused nothing"
                ),
                Limit::Footprint => assert_eq!(
                    after.mmap_failures, before.mmap_failures,
                    "{name}: the core asked the system for memory past its footprint limit"
                ),
            }
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
            // SAFETY: a live block of this heap, freed once.
            unsafe { heap.free(block.ptr) };
        }
    }
    live
}

/// At a footprint limit, memory already in the heap stays usable, and a
/// limit below the footprint refuses all growth without asking the system,
/// while frees still work.
fn at_the_footprint_limit(heap: Heap, live: &mut Vec<Block>) {
    let name = heap.name();
    let freed = live.swap_remove(0);
    // SAFETY: a live block of this heap, freed once.
    unsafe { heap.free(freed.ptr) };
    let again = heap.malloc(freed.len);
    assert!(
        !again.is_null(),
        "{name}: freed memory is unusable at the limit"
    );
    live.push(Block::fill(again, freed.len, 99));

    let tiny = heap.set_footprint_limit(1);
    assert!(tiny < heap.footprint());
    let calls = faults::counters().mmap_calls;
    assert!(
        heap.malloc(8 * MIB).is_null(),
        "{name}: grew under a tiny limit"
    );
    assert!(heap.memalign(MIB, MIB).is_null());
    assert!(heap.calloc(1, 8 * MIB).is_null());
    // SAFETY: a live block of this heap.
    let grown = unsafe { heap.realloc(live[0].ptr, 8 * MIB) };
    assert!(grown.is_null(), "{name}: realloc grew under a tiny limit");
    live[0].verify("block after a refused realloc");
    assert_eq!(
        faults::counters().mmap_calls,
        calls,
        "{name}: asked the system"
    );
    assert_clean(heap, &format!("{name}, under a tiny limit"));
}

fn scenario(kind: Limit, heap: Heap, all: &[Heap]) {
    let (name, what) = (heap.name(), kind.name());
    let start = kind.measure(heap);
    let limit = kind.set(heap, start + HEADROOM);
    let mut live = run_into(kind, heap, all, limit, 20);
    let used = kind.measure(heap) - start;
    eprintln!("{name}: {used} of {HEADROOM} bytes of headroom used before the {what} stopped it");
    assert!(
        used >= HEADROOM * 3 / 4,
        "{name}: only {used} of {HEADROOM} bytes of headroom were usable"
    );
    verify_all(&live, &format!("block under the {what}"));
    assert_clean(heap, &format!("{name}, at the {what}"));
    assert_accounting(all, 0, &format!("{name}, at the {what}"));
    if kind == Limit::Footprint {
        at_the_footprint_limit(heap, &mut live);
    }

    // Raising the limit lets allocation resume, until the new limit: the
    // budget by 4 MiB, the footprint limit to 4 MiB above the footprint.
    let base = match kind {
        Limit::Budget => limit,
        Limit::Footprint => heap.footprint(),
    };
    let raised = kind.set(heap, base + 4 * MIB);
    let big = heap.malloc(2 * MIB);
    assert!(
        !big.is_null(),
        "{name}: 2 MiB failed after raising the {what}"
    );
    live.push(Block::fill(big, 2 * MIB, 77));
    live.extend(run_into(kind, heap, all, raised, 5));
    verify_all(&live, &format!("block after raising the {what}"));
    assert_clean(heap, &format!("{name}, at the raised {what}"));

    // Removing it too.
    kind.set(heap, usize::MAX);
    let bigger = heap.malloc(16 * MIB);
    assert!(!bigger.is_null(), "{name}: 16 MiB failed without a {what}");
    // SAFETY: a live block of this heap, freed once.
    unsafe { heap.free(bigger) };
    free_all(heap, live, "block at the end");
    heap.trim(0);
    assert_clean(heap, &format!("{name}, at the end"));
    assert_accounting(all, 0, &format!("{name}, at the end"));
}

#[test]
fn global_heap_runs_into_the_budget() {
    let _only_me = faults::exclusive();
    scenario(Limit::Budget, Heap::GLOBAL, &[Heap::GLOBAL]);
}

#[test]
fn mspace_runs_into_the_budget() {
    let _only_me = faults::exclusive();
    on_a_fresh_mspace(true, |heap, all| scenario(Limit::Budget, heap, all));
}

#[test]
fn global_heap_reaches_its_footprint_limit() {
    let _only_me = faults::exclusive();
    scenario(Limit::Footprint, Heap::GLOBAL, &[Heap::GLOBAL]);
}

#[test]
fn mspace_reaches_its_footprint_limit() {
    let _only_me = faults::exclusive();
    on_a_fresh_mspace(true, |heap, all| scenario(Limit::Footprint, heap, all));
}
