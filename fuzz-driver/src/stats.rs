//! Checks of the statistics a heap reports (mallinfo, footprints, limits)
//! against each other and against the blocks the model knows are live.

use crate::heaps::Heap;

/// Checks the relations every mallinfo snapshot must satisfy, and that the
/// `live_usable` bytes of the model's live blocks in this heap are counted
/// as in use. Holds for the global heap too, whatever other threads do: the
/// snapshot is taken under the heap's lock and others only add blocks.
///
/// # Safety
///
/// `heap` must be live.
pub unsafe fn assert_consistent(heap: Heap, live_usable: usize) {
    // SAFETY: the heap is live (caller).
    let info = unsafe { heap.mallinfo() };
    assert_eq!(
        info.uordblks + info.fordblks,
        info.arena + info.hblkhd,
        "mallinfo: used + free bytes differ from the footprint: {info:?}"
    );
    assert!(
        info.usmblks >= info.arena + info.hblkhd,
        "mallinfo: maximum footprint below the footprint: {info:?}"
    );
    assert!(
        info.keepcost <= info.fordblks,
        "mallinfo: top chunk larger than the free bytes: {info:?}"
    );
    assert_eq!(
        info.hblks == 0,
        info.hblkhd == 0,
        "mallinfo: mapped chunk count and bytes disagree: {info:?}"
    );
    assert!(
        info.uordblks >= live_usable,
        "mallinfo: {} bytes in use, but the live blocks hold {live_usable}: {info:?}",
        info.uordblks
    );
    assert_eq!(info.smblks, 0, "mallinfo: smblks is always 0");
    assert_eq!(info.fsmblks, 0, "mallinfo: fsmblks is always 0");
}

/// Checks the statistics that only this run changes, so they are exact: the
/// footprint agrees with mallinfo, the maximum footprint with its own
/// reader, and the limit in force is the one last set (`limit_set`).
///
/// # Safety
///
/// `heap` must be a live mspace that no other thread uses.
pub unsafe fn assert_private(heap: Heap, limit_set: usize) {
    // SAFETY: the heap is live and private (caller).
    unsafe {
        let info = heap.mallinfo();
        let footprint = heap.footprint();
        assert_eq!(
            info.arena + info.hblkhd,
            footprint,
            "mallinfo disagrees with the footprint: {info:?}"
        );
        assert_eq!(
            info.usmblks,
            heap.max_footprint(),
            "mallinfo disagrees with the maximum footprint: {info:?}"
        );
        assert_eq!(
            heap.footprint_limit(),
            limit_set,
            "the footprint limit in force is not the one set"
        );
    }
}
