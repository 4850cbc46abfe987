//! `destroy_mspace` while `custom_munmap` fails for all, some, or one of
//! the heap's mappings: it tries to give back every mapping (segments and
//! large blocks, a mapping shrunk in place, a mapping kept as a segment)
//! exactly once, with ranges the platform really mapped, and
//! returns exactly the bytes the platform released. Whatever could not be
//! released stays mapped (the handle is dead, so that memory is leaked, as
//! the contract allows), and the global heap is unaffected.

mod common;

use common::*;
use dlmalloc_fault_injection as faults;

const LARGE: usize = 3 * MIB;
/// Large blocks with a mapping of their own in each heap.
const LARGE_BLOCKS: usize = 2;

/// An mspace grown past its first 2 MiB with 64 KiB blocks, with two
/// directly mapped blocks, one shrunk in place, and one kept as a segment;
/// returns it and the two large blocks.
fn busy_mspace() -> (Space, Vec<Block>) {
    let space = Space::create(0, true);
    let heap = space.heap();
    for i in 0..96 {
        let p = heap.malloc(64 * KIB);
        assert!(!p.is_null());
        Block::fill(p, 64 * KIB, i);
    }
    let large: Vec<Block> = (0..LARGE_BLOCKS)
        .map(|i| Block::fill(heap.malloc(LARGE), LARGE, 100 + i as u64))
        .collect();
    // A mapping whose tail was given back, and one kept as a segment
    // because its unmap failed: destroy must pass their current extents.
    let shrunk = heap.malloc(LARGE);
    // SAFETY: a live block of this heap.
    assert_eq!(unsafe { heap.realloc(shrunk, LARGE / 3) }, shrunk);
    let kept = heap.malloc(LARGE);
    faults::fail_munmap(true);
    // SAFETY: a live block of this heap, freed once.
    unsafe { heap.free(kept) };
    faults::fail_munmap(false);
    assert_eq!(heap.mallinfo().hblks, LARGE_BLOCKS + 1);
    assert_clean(heap, "busy mspace");
    (space, large)
}

#[test]
fn destroy_mspace_with_failing_munmap() {
    let _only_me = faults::exclusive();
    let mut leaked = 0;
    // (what fails, how many munmap calls fail at most)
    type Arm = fn();
    let plans: [(&str, Arm); 5] = [
        ("nothing", || faults::fail_munmap(false)),
        ("every munmap", || faults::fail_munmap(true)),
        ("all but the first", || faults::fail_munmap_after(1)),
        ("the first only", || faults::fail_munmap_call(0)),
        ("the second only", || faults::fail_munmap_call(1)),
    ];
    for (what, arm) in plans {
        let (space, large) = busy_mspace();
        let footprint = space.heap().footprint();
        assert_accounting(&[Heap::GLOBAL, space.heap()], leaked, what);
        let before = faults::counters();
        arm();
        let returned = space.destroy();
        faults::reset();
        let after = faults::counters();
        let released = before.mapped_bytes - after.mapped_bytes;
        let calls = after.munmap_calls - before.munmap_calls;
        let failed = after.munmap_failures - before.munmap_failures;
        eprintln!(
            "{what} fails: {calls} munmap calls, {failed} failed, {returned} of {footprint} \
             bytes released"
        );
        assert_eq!(
            after.contract_violations, 0,
            "{what}: destroy passed a range that is not mapped (see stderr)"
        );
        assert_eq!(
            returned, released,
            "{what}: destroy_mspace reports {returned} bytes, the platform released {released}"
        );
        assert!(
            calls as usize >= LARGE_BLOCKS + 2,
            "{what}: only {calls} munmap calls for {LARGE_BLOCKS} large blocks, the shrunk one and the segments"
        );
        let expected_failures = match what {
            "nothing" => 0,
            "every munmap" => calls,
            "all but the first" => calls - 1,
            _ => 1,
        };
        assert_eq!(failed, expected_failures, "{what}: failed munmap calls");
        if failed == 0 {
            assert_eq!(returned, footprint, "{what}: not everything was released");
        } else {
            assert!(returned < footprint, "{what}: more released than possible");
        }
        for block in &large {
            let still = faults::is_mapped(block.ptr as usize, LARGE);
            if what == "every munmap" {
                assert!(still, "{what}: a large block's mapping vanished");
                block.verify("large block of a destroyed mspace whose munmap failed");
            } else if what == "nothing" {
                assert!(faults::is_unmapped(block.ptr as usize, LARGE));
            }
        }
        leaked += footprint - returned;
        assert_accounting(&[Heap::GLOBAL], leaked, &format!("{what}, after destroy"));
        assert_clean(Heap::GLOBAL, &format!("{what}, global heap after destroy"));
    }
}
