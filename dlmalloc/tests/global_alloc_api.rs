//! `DLMalloc`'s `GlobalAlloc` methods called directly (it is not the global
//! allocator here): alignment, zeroing, realloc copying and failure paths.

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;
use dlmalloc_platform_std as _;

/// Every power of two from 1 to 64 KiB.
fn alignments() -> impl Iterator<Item = usize> {
    (0..=16).map(|shift| 1usize << shift)
}

/// A valid `Layout` size for `align` (up to 4096) that no heap can provide,
/// or `None` if there is none.
///
/// On 64-bit, a size close to `isize::MAX`, valid for every such alignment,
/// is beyond any address space. On 32-bit, `isize::MAX` is only 2 GiB, which
/// a process can really get; what must fail there is what the core refuses
/// at once: requests at or above `MAX_REQUEST` (`usize::MAX / 2`, which is
/// `isize::MAX`), and for `memalign` (alignments above `MALLOC_ALIGNMENT`)
/// those at or above `MAX_REQUEST - align`. The largest size valid for
/// `align`, `isize::MAX + 1 - align`, is both for `align == 1` and for
/// `align > MALLOC_ALIGNMENT`; for the alignments in between no valid size
/// must fail.
fn huge_size(align: usize) -> Option<usize> {
    if cfg!(target_pointer_width = "64") {
        Some((isize::MAX as usize - 4096) & !4095)
    } else if align == 1 || align > dlmalloc_sys::MALLOC_ALIGNMENT {
        Some(isize::MAX as usize + 1 - align)
    } else {
        None
    }
}

fn fill(block: *mut u8, len: usize, seed: u8) {
    for i in 0..len {
        // SAFETY: the callers pass a live block of at least `len` bytes.
        unsafe { block.add(i).write(seed.wrapping_add(i as u8)) };
    }
}

fn holds(block: *const u8, len: usize, seed: u8) -> bool {
    // SAFETY: the callers pass a live block of at least `len` bytes.
    (0..len).all(|i| unsafe { block.add(i).read() } == seed.wrapping_add(i as u8))
}

#[test]
fn alloc_honours_every_alignment() {
    for align in alignments() {
        for size in [1, 7, 16, 100, 4096, 70_000] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size.
            let block = unsafe { DLMalloc.alloc(layout) };
            assert!(!block.is_null(), "alloc({size}, {align}) failed");
            assert_eq!(
                block as usize % align,
                0,
                "alloc({size}, {align}) misaligned"
            );
            fill(block, size, 3);
            assert!(holds(block, size, 3));
            // SAFETY: allocated above with this layout.
            unsafe { DLMalloc.dealloc(block, layout) };
        }
    }
    DLMalloc.heap_check().unwrap();
}

#[test]
fn alloc_zeroed_is_zero_at_every_alignment() {
    for align in alignments() {
        for size in [1, 24, 333, 4096, 100_000, 1 << 20] {
            // Dirty some memory first so that a block reused from the heap
            // would show it.
            let dirty_layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size.
            let dirty = unsafe { DLMalloc.alloc(dirty_layout) };
            assert!(!dirty.is_null());
            // SAFETY: a live block of `size` bytes.
            unsafe { dirty.write_bytes(0xee, size) };
            // SAFETY: allocated above with this layout.
            unsafe { DLMalloc.dealloc(dirty, dirty_layout) };

            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size.
            let block = unsafe { DLMalloc.alloc_zeroed(layout) };
            assert!(!block.is_null(), "alloc_zeroed({size}, {align}) failed");
            assert_eq!(block as usize % align, 0);
            // SAFETY: a live block of `size` bytes.
            let bytes = unsafe { std::slice::from_raw_parts(block, size) };
            assert!(
                bytes.iter().all(|&b| b == 0),
                "alloc_zeroed({size}, {align}) not zero"
            );
            // SAFETY: allocated above with this layout.
            unsafe { DLMalloc.dealloc(block, layout) };
        }
    }
    DLMalloc.heap_check().unwrap();
}

#[test]
fn realloc_keeps_alignment_and_contents() {
    for align in alignments() {
        let mut layout = Layout::from_size_align(40, align).unwrap();
        // SAFETY: non-zero size.
        let mut block = unsafe { DLMalloc.alloc(layout) };
        assert!(!block.is_null());
        fill(block, 40, 9);
        for new_size in [100, 5000, 300_000, 64, 1, 2 << 20, 77] {
            let kept = layout.size().min(new_size);
            // SAFETY: `block` is live with `layout`; the new size is non-zero.
            let moved = unsafe { DLMalloc.realloc(block, layout, new_size) };
            assert!(
                !moved.is_null(),
                "realloc to {new_size} at align {align} failed"
            );
            assert_eq!(moved as usize % align, 0, "realloc lost alignment {align}");
            assert!(holds(moved, kept, 9), "realloc to {new_size} lost contents");
            block = moved;
            layout = Layout::from_size_align(new_size, align).unwrap();
            fill(block, new_size, 9);
        }
        // SAFETY: live with `layout`.
        unsafe { DLMalloc.dealloc(block, layout) };
    }
    DLMalloc.heap_check().unwrap();
}

#[test]
fn page_aligned_block_grows_and_shrinks_aligned() {
    let mut layout = Layout::from_size_align(4096, 4096).unwrap();
    // SAFETY: non-zero size.
    let mut block = unsafe { DLMalloc.alloc(layout) };
    assert!(!block.is_null());
    fill(block, 4096, 1);

    // Keep other blocks around so that growing cannot always happen in place.
    let blocker_layout = Layout::from_size_align(64, 16).unwrap();
    // SAFETY: non-zero size.
    let blocker = unsafe { DLMalloc.alloc(blocker_layout) };
    assert!(!blocker.is_null());

    for new_size in [3 * 4096, 1 << 20, 10_000, 4096 * 2 + 5, 512] {
        let kept = layout.size().min(new_size);
        // SAFETY: live with `layout`; non-zero size.
        let moved = unsafe { DLMalloc.realloc(block, layout, new_size) };
        assert!(!moved.is_null());
        assert_eq!(
            moved as usize % 4096,
            0,
            "resized to {new_size}: not 4096-aligned"
        );
        assert!(
            holds(moved, kept, 1),
            "resized to {new_size}: contents lost"
        );
        block = moved;
        layout = Layout::from_size_align(new_size, 4096).unwrap();
        fill(block, new_size, 1);
    }
    // SAFETY: both live with their layouts.
    unsafe {
        DLMalloc.dealloc(block, layout);
        DLMalloc.dealloc(blocker, blocker_layout);
    }
    DLMalloc.heap_check().unwrap();
}

#[test]
fn shrinking_an_over_aligned_block_copies_only_the_new_size() {
    // An alignment the core cannot give through plain realloc, and a block
    // large enough that a shrink may move it. Whether it moves or not, the
    // first `new_size` bytes must survive and nothing past the new block may
    // be written (a copy of the old size would corrupt the heap, which the
    // heap check would report).
    for align in [32, 4096, 65536] {
        for (old_size, new_size) in [(1 << 20, 100), (300_000, 4096), (8192, 1)] {
            let layout = Layout::from_size_align(old_size, align).unwrap();
            // SAFETY: non-zero size.
            let block = unsafe { DLMalloc.alloc(layout) };
            assert!(!block.is_null());
            fill(block, old_size, 42);
            // SAFETY: live with `layout`; non-zero size.
            let smaller = unsafe { DLMalloc.realloc(block, layout, new_size) };
            assert!(!smaller.is_null());
            assert_eq!(smaller as usize % align, 0);
            assert!(
                holds(smaller, new_size, 42),
                "prefix lost ({old_size} -> {new_size})"
            );
            DLMalloc.heap_check().unwrap();
            // SAFETY: live with the new size and the same alignment.
            unsafe { DLMalloc.dealloc(smaller, Layout::from_size_align(new_size, align).unwrap()) };
        }
    }
    DLMalloc.heap_check().unwrap();
}

#[test]
fn huge_requests_return_null() {
    for align in [1, 16, 32, 4096] {
        let Some(huge) = huge_size(align) else {
            continue;
        };
        let layout = Layout::from_size_align(huge, align).unwrap();
        // SAFETY: non-zero size.
        let block = unsafe { DLMalloc.alloc(layout) };
        assert!(block.is_null(), "huge alloc at align {align}");
        // SAFETY: non-zero size.
        let zeroed = unsafe { DLMalloc.alloc_zeroed(layout) };
        assert!(zeroed.is_null(), "huge zeroed at align {align}");
    }
    DLMalloc.heap_check().unwrap();
}

#[test]
fn failed_realloc_keeps_the_old_block() {
    for align in [8, 16, 64, 4096] {
        // On 32-bit there is no huge size that must fail at align 8.
        let Some(huge) = huge_size(align) else {
            continue;
        };
        let layout = Layout::from_size_align(1000, align).unwrap();
        // SAFETY: non-zero size.
        let block = unsafe { DLMalloc.alloc(layout) };
        assert!(!block.is_null());
        fill(block, 1000, 77);
        // SAFETY: live with `layout`; the new size rounded up to `align`
        // does not overflow isize.
        let failed = unsafe { DLMalloc.realloc(block, layout, huge) };
        assert!(failed.is_null(), "huge realloc at align {align} succeeded");
        assert!(holds(block, 1000, 77), "failed realloc damaged the block");
        // SAFETY: still live with `layout`, since the realloc failed.
        unsafe { DLMalloc.dealloc(block, layout) };
    }
    DLMalloc.heap_check().unwrap();
}
