//! Checks of the statistics a heap reports (mallinfo, footprints, limits)
//! against each other and against the blocks the model knows are live.

use dlmalloc_test_support::Heap;

use crate::model::Block;

/// Checks the relations every mallinfo snapshot must satisfy, and that the
/// `live_usable` bytes of the model's live blocks in this heap are counted
/// as in use. Holds for the global heap too, whatever other threads do: the
/// snapshot is taken under the heap's lock and others only add blocks.
pub fn assert_consistent(heap: Heap, live_usable: usize) {
    let info = heap.assert_mallinfo("mallinfo");
    assert!(
        info.uordblks >= live_usable,
        "mallinfo: {} bytes in use, but the live blocks hold {live_usable}: {info:?}",
        info.uordblks
    );
}

/// Checks the statistics that only this run changes, so they are exact: the
/// footprint agrees with mallinfo, the maximum footprint with its own
/// reader, and the limit in force is the one last set (`limit_set`). The
/// heap must be an mspace that no other thread uses.
pub fn assert_private(heap: Heap, limit_set: usize) {
    heap.assert_mallinfo_exact("mallinfo of a private heap");
    assert_eq!(
        heap.footprint_limit(),
        limit_set,
        "the footprint limit in force is not the one set"
    );
}

/// Checks that `dlmalloc_inspect_all` reports every live block of `heap`
/// in `blocks` as an in-use chunk starting at the block with its usable
/// size; for a `private` heap (an mspace only this run uses) it must report
/// nothing else.
///
/// # Safety
///
/// Every block must be live in `heap`; anything else is undefined behavior.
pub unsafe fn assert_inspect_agrees(heap: Heap, blocks: &[Block], private: bool) {
    let Some(in_use) = heap.in_use(4 * blocks.len() + 64) else {
        assert!(
            !private,
            "inspect_all: far more in-use chunks than live blocks"
        );
        return; // other users of the global heap: nothing exact to say
    };
    for b in blocks {
        let start = b.ptr as usize;
        // SAFETY: the block is live (caller).
        let usable = unsafe { heap.usable_size(b.ptr) };
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
