//! Checks of the statistics a heap reports (mallinfo, footprints, limits)
//! against each other and against the blocks the model knows are live.

use crate::heaps::Heap;
use crate::model::Block;

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

/// Checks that `dlmalloc_inspect_all` reports every live block of `heap`
/// in `blocks` as an in-use chunk starting at the block with its usable
/// size; for a `private` heap (an mspace only this run uses) it must report
/// nothing else.
///
/// # Safety
///
/// `heap` must be live and every block live in it.
pub unsafe fn assert_inspect_agrees(heap: Heap, blocks: &[Block], private: bool) {
    let mut in_use = Vec::with_capacity(4 * blocks.len() + 64);
    // SAFETY: the heap is live (caller).
    if !unsafe { heap.inspect_in_use(&mut in_use) } {
        assert!(
            !private,
            "inspect_all: far more in-use chunks than live blocks"
        );
        return; // other users of the global heap: nothing exact to say
    }
    in_use.sort_unstable();
    for b in blocks {
        let start = b.ptr as usize;
        // SAFETY: the block is live (caller).
        let usable = unsafe { dlmalloc_sys::dlmalloc_usable_size(b.ptr.cast()) };
        let found = in_use
            .binary_search_by_key(&start, |&(s, _)| s)
            .map(|i| in_use[i].1);
        assert_eq!(
            found,
            Ok(usable),
            "inspect_all: live block {start:#x} ({usable} usable bytes) not reported as such"
        );
    }
    if private {
        assert_eq!(
            in_use.len(),
            blocks.len(),
            "inspect_all: in-use chunks that are no live block"
        );
    }
}
