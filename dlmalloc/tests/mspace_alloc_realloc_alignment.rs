//! `MspaceAlloc::realloc` keeps the layout's alignment, whether the block
//! grows or shrinks, in place or moved, and keeps its contents. (The older
//! `portable-dlmalloc` passed the new size where the alignment belongs.)

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::MspaceAlloc;
use dlmalloc_platform_std as _;

static HEAP: MspaceAlloc = MspaceAlloc::new(1 << 20);

fn fill(block: *mut u8, len: usize, seed: u8) {
    for i in 0..len {
        // SAFETY: the callers pass a live block of at least `len` bytes.
        unsafe { block.add(i).write(seed.wrapping_add((i % 251) as u8)) };
    }
}

fn holds(block: *const u8, len: usize, seed: u8) -> bool {
    // SAFETY: the callers pass a live block of at least `len` bytes.
    (0..len).all(|i| unsafe { block.add(i).read() } == seed.wrapping_add((i % 251) as u8))
}

/// Reallocates one block of alignment `align` through a series of sizes,
/// with a neighbour allocated after each step so that some steps cannot be
/// done in place and must move.
fn walk_sizes(align: usize) {
    let sizes = [100, 5000, 64, 200_000, 3000, 1 << 20, 10, 70_000];
    let mut layout = Layout::from_size_align(sizes[0], align).unwrap();
    // SAFETY: non-zero size.
    let mut block = unsafe { HEAP.alloc(layout) };
    assert!(!block.is_null());
    fill(block, layout.size(), align as u8);
    let mut neighbours = Vec::new();
    for &new_size in &sizes[1..] {
        // SAFETY: `block` is live with `layout`; `new_size` is non-zero and
        // small.
        let moved = unsafe { HEAP.realloc(block, layout, new_size) };
        assert!(!moved.is_null(), "realloc to {new_size} failed");
        assert_eq!(
            moved as usize % align,
            0,
            "realloc({}, align {align}) to {new_size} lost the alignment",
            layout.size()
        );
        let kept = layout.size().min(new_size);
        assert!(
            holds(moved, kept, align as u8),
            "contents lost at {new_size}"
        );
        block = moved;
        layout = Layout::from_size_align(new_size, align).unwrap();
        fill(block, new_size, align as u8);
        let small = Layout::from_size_align(32, 8).unwrap();
        // SAFETY: non-zero size.
        let neighbour = unsafe { HEAP.alloc(small) };
        assert!(!neighbour.is_null());
        neighbours.push(neighbour);
    }
    // SAFETY: every block is live and freed once with its layout.
    unsafe {
        HEAP.dealloc(block, layout);
        for neighbour in neighbours {
            HEAP.dealloc(neighbour, Layout::from_size_align(32, 8).unwrap());
        }
    }
}

#[test]
fn a_4096_aligned_block_stays_aligned_through_realloc() {
    walk_sizes(4096);
    HEAP.heap_check().unwrap();
}

#[test]
fn every_large_alignment_survives_realloc() {
    for shift in 5..=20 {
        walk_sizes(1 << shift);
    }
    HEAP.heap_check().unwrap();
}

#[test]
fn a_shrink_that_must_move_copies_only_the_new_size() {
    let layout = Layout::from_size_align(1 << 16, 4096).unwrap();
    for _ in 0..50 {
        // SAFETY: non-zero size.
        let block = unsafe { HEAP.alloc(layout) };
        assert!(!block.is_null());
        fill(block, layout.size(), 7);
        // SAFETY: live block with `layout`; 4000 is non-zero.
        let shrunk = unsafe { HEAP.realloc(block, layout, 4000) };
        assert_eq!(shrunk as usize % 4096, 0);
        assert!(holds(shrunk, 4000, 7));
        // SAFETY: the block is live with this layout.
        unsafe { HEAP.dealloc(shrunk, Layout::from_size_align(4000, 4096).unwrap()) };
    }
    HEAP.heap_check().unwrap();
}
