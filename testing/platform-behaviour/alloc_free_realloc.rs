//! Many sizes through `DLMalloc`: every block keeps its pattern through
//! other allocations, frees and reallocs, and the heap walk stays clean.
//!
//! Shared by the platforms that cannot run the main workspace's tests
//! (wasm32, Windows): each includes this file from a test of its own that
//! links its hooks (`use <platform> as _`).

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// The byte at offset `i` of block `id`.
fn pattern(id: usize, i: usize) -> u8 {
    (id.wrapping_mul(31) ^ i.wrapping_mul(7)) as u8
}

/// Fills `len` bytes at `ptr` with block `id`'s pattern.
///
/// # Safety
///
/// `ptr` must be valid for `len` bytes of writes.
unsafe fn fill(ptr: *mut u8, len: usize, id: usize) {
    for i in 0..len {
        // SAFETY: i < len, and the caller guarantees the range.
        unsafe { ptr.add(i).write(pattern(id, i)) };
    }
}

/// Whether the first `len` bytes at `ptr` hold block `id`'s pattern.
///
/// # Safety
///
/// `ptr` must be valid for `len` bytes of reads.
unsafe fn holds(ptr: *const u8, len: usize, id: usize) -> bool {
    // SAFETY: i < len, and the caller guarantees the range.
    (0..len).all(|i| unsafe { ptr.add(i).read() } == pattern(id, i))
}

/// Sizes from 1 byte to 1 MiB: every small size, then steps, then large
/// ones (direct mappings from 256 KiB up).
fn sizes() -> Vec<usize> {
    let mut sizes: Vec<usize> = (1..=300).collect();
    sizes.extend((300..20_000).step_by(997));
    sizes.extend([65_536, 100_000, 262_144, 300_000, 1 << 20]);
    sizes
}

#[test]
fn blocks_of_many_sizes_keep_their_contents() {
    let sizes = sizes();
    let mut blocks = Vec::with_capacity(sizes.len());
    for (id, &size) in sizes.iter().enumerate() {
        let layout = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { GLOBAL.alloc(layout) };
        assert!(!ptr.is_null(), "alloc of {size} bytes failed");
        assert_eq!(ptr as usize % 8, 0);
        // SAFETY: a live block of `size` bytes.
        unsafe { fill(ptr, size, id) };
        blocks.push((ptr, layout, id));
    }
    GLOBAL.heap_check().unwrap();

    // Free every other block, then check the rest.
    let mut kept = Vec::new();
    for (n, (ptr, layout, id)) in blocks.into_iter().enumerate() {
        if n % 2 == 0 {
            // SAFETY: allocated above with this layout, freed once.
            unsafe { GLOBAL.dealloc(ptr, layout) };
        } else {
            kept.push((ptr, layout, id));
        }
    }
    GLOBAL.heap_check().unwrap();

    // Realloc each survivor to a larger, then a smaller size.
    for (ptr, layout, id) in &mut kept {
        // SAFETY: each is a live block of its layout.
        assert!(unsafe { holds(*ptr, layout.size(), *id) });
        let grown = layout.size() * 2 + 13;
        // SAFETY: a live block of `layout`, non-zero new size.
        let moved = unsafe { GLOBAL.realloc(*ptr, *layout, grown) };
        assert!(!moved.is_null());
        // SAFETY: realloc keeps the old contents, in a block of `grown` bytes.
        assert!(unsafe { holds(moved, layout.size(), *id) });
        // SAFETY: the new block has `grown` bytes.
        unsafe { fill(moved, grown, *id) };
        let shrunk = grown / 3 + 1;
        let grown_layout = Layout::from_size_align(grown, 8).unwrap();
        // SAFETY: a live block of `grown_layout`, non-zero new size.
        let again = unsafe { GLOBAL.realloc(moved, grown_layout, shrunk) };
        assert!(!again.is_null());
        // SAFETY: the first `shrunk` bytes are kept.
        assert!(unsafe { holds(again, shrunk, *id) });
        *ptr = again;
        *layout = Layout::from_size_align(shrunk, 8).unwrap();
    }
    GLOBAL.heap_check().unwrap();
    for (ptr, layout, _) in kept {
        // SAFETY: live blocks of these layouts, freed once.
        unsafe { GLOBAL.dealloc(ptr, layout) };
    }
    GLOBAL.heap_check().unwrap();
}

#[test]
fn collections_work() {
    let squares: Vec<u64> = (0..100_000).map(|i| i * i).collect();
    let names: std::collections::BTreeMap<u32, String> =
        (0..2_000).map(|i| (i, format!("block {i}"))).collect();
    assert_eq!(squares[99_999], 9_999_800_001);
    assert_eq!(names[&1_999], "block 1999");
    let mut text = String::new();
    for i in 0..10_000 {
        text.push_str(&i.to_string());
    }
    assert!(text.ends_with("9999"));
    GLOBAL.heap_check().unwrap();
}
