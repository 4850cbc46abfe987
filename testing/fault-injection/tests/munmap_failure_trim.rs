//! Trimming while `custom_munmap` fails: the automatic trim on free and an
//! explicit trim (which must try) both release nothing, the footprint and
//! mallinfo stay consistent with what the platform still has mapped, the
//! heap checks clean, the unreleased memory serves later requests without
//! asking the system, and once munmap works a trim gives it back. On the
//! global heap and on an mspace.

mod common;

use common::*;
use dlmalloc_fault_injection as faults;

/// Below the mmap threshold: served from the heap's segments.
const BLOCK: usize = 48 * KIB;
/// Enough blocks to grow the heap well past the 2 MiB trim threshold.
const BLOCKS: usize = 100;

fn grow(heap: Heap, seed: u64) -> Vec<Block> {
    (0..BLOCKS)
        .map(|i| {
            let p = heap.malloc(BLOCK);
            assert!(!p.is_null(), "{}: malloc({BLOCK})", heap.name());
            Block::fill(p, BLOCK, seed + i as u64)
        })
        .collect()
}

fn scenario(heap: Heap, all: &[Heap]) {
    let name = heap.name();
    let anchor = Block::fill(heap.malloc(300), 300, 1);
    let blocks = grow(heap, 100);
    let footprint = heap.footprint();
    let before = faults::counters();

    faults::fail_munmap(true);
    free_all(heap, blocks, "block before free");
    assert_eq!(
        heap.footprint(),
        footprint,
        "{name}: a failed trim moved the footprint"
    );
    assert_clean(heap, &format!("{name}, after frees whose trim failed"));
    assert_accounting(all, 0, &format!("{name}, after frees whose trim failed"));
    let info = heap.mallinfo();
    assert!(
        info.fordblks >= BLOCK * BLOCKS,
        "{name}: the freed memory is not free: {info:?}"
    );

    // Whether the frees tried to trim depends on where the system put the
    // segments (free memory in top is trimmed on free, wholly free older
    // segments only periodically); an explicit trim always tries.
    let failures = faults::counters().munmap_failures;
    assert!(
        !heap.trim(0),
        "{name}: trim(0) claims success while munmap fails"
    );
    assert!(
        faults::counters().munmap_failures > failures,
        "{name}: trim(0) with {} free bytes never called munmap",
        info.fordblks
    );
    assert!(faults::counters().munmap_failures > before.munmap_failures);
    assert_eq!(heap.footprint(), footprint);
    assert_eq!(
        heap.mallinfo(),
        info,
        "{name}: a failed trim changed mallinfo"
    );
    assert_clean(heap, &format!("{name}, after a failed trim(0)"));

    // The memory that could not be given back is used again, without
    // asking the system for more.
    let calls = faults::counters().mmap_calls;
    let blocks = grow(heap, 300);
    assert_eq!(
        faults::counters().mmap_calls,
        calls,
        "{name}: the kept memory was not reused"
    );
    assert_eq!(heap.footprint(), footprint);
    free_all(heap, blocks, "block reusing kept memory");
    assert_clean(heap, &format!("{name}, after reusing kept memory"));

    faults::fail_munmap(false);
    assert!(heap.trim(0), "{name}: trim(0) released nothing");
    let trimmed = heap.footprint();
    assert!(
        trimmed + BLOCK * BLOCKS / 2 <= footprint,
        "{name}: trim(0) only went from {footprint} to {trimmed}"
    );
    assert_clean(heap, &format!("{name}, after a working trim"));
    assert_accounting(all, 0, &format!("{name}, after a working trim"));
    anchor.verify("anchor block");
    // SAFETY: a live block of this heap, freed once.
    unsafe { heap.free(anchor.ptr) };
}

#[test]
fn global_heap_trim_with_failing_munmap() {
    let _only_me = faults::exclusive();
    scenario(Heap::GLOBAL, &[Heap::GLOBAL]);
}

#[test]
fn mspace_trim_with_failing_munmap() {
    let _only_me = faults::exclusive();
    for locked in [false, true] {
        on_a_fresh_mspace(locked, scenario);
    }
}
