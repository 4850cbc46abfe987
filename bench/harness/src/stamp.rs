//! Block verification: every workload writes a tag into the first and last
//! word of each block it gets and checks both before it frees or resizes
//! the block. An allocator that hands out overlapping blocks, loses a
//! realloc's contents or returns misaligned memory fails the run (with a
//! panic naming the allocator's crime) instead of scoring.

use core::alloc::Layout;

/// The tag of block `id` in a run: distinct per block, never zero.
pub fn tag(id: u64) -> u64 {
    id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
}

/// Checks that the allocator returned a usable block for `layout`.
///
/// # Panics
///
/// If `ptr` is null (the benchmark gives every allocator enough memory) or
/// not aligned as `layout` asks.
pub fn check_fresh(ptr: *mut u8, layout: Layout, what: &str) {
    assert!(!ptr.is_null(), "{what}: allocation of {layout:?} failed");
    assert!(
        (ptr as usize) % layout.align() == 0,
        "{what}: block {ptr:p} is not aligned to {}",
        layout.align()
    );
}

/// Writes `tag` into the first and the last 8 bytes of the block.
///
/// # Safety
///
/// `ptr` must be valid for writes of `size` bytes, and `size >= 8`.
/// Otherwise the behavior is undefined.
pub unsafe fn write(ptr: *mut u8, size: usize, tag: u64) {
    debug_assert!(size >= 8);
    // SAFETY: both words lie inside the block (caller's contract); unaligned
    // writes because the tail word need not be aligned.
    unsafe {
        ptr.cast::<u64>().write_unaligned(tag);
        ptr.add(size - 8).cast::<u64>().write_unaligned(!tag);
    }
}

/// Checks the words written by [`write()`]; `size` is the size the block had
/// when they were written.
///
/// # Panics
///
/// If either word changed: someone else wrote into the block.
///
/// # Safety
///
/// `ptr` must be valid for reads of `size` bytes, and `size >= 8`.
/// Otherwise the behavior is undefined.
pub unsafe fn check(ptr: *const u8, size: usize, tag: u64, what: &str) {
    // SAFETY: as in `write`.
    let (head, tail) = unsafe {
        (
            ptr.cast::<u64>().read_unaligned(),
            ptr.add(size - 8).cast::<u64>().read_unaligned(),
        )
    };
    assert!(
        head == tag && tail == !tag,
        "{what}: block {ptr:p} of {size} bytes was overwritten \
         (head {head:#x}, tail {tail:#x}, expected {tag:#x})"
    );
}

/// Checks only the first word: after a realloc the old tail word may lie
/// past a shrunken block, and a grown block keeps only the old contents.
///
/// # Panics
///
/// If the first word is not `tag`.
///
/// # Safety
///
/// `ptr` must be valid for reads of 8 bytes. Otherwise the behavior is
/// undefined.
pub unsafe fn check_head(ptr: *const u8, tag: u64, what: &str) {
    // SAFETY: caller's contract.
    let head = unsafe { ptr.cast::<u64>().read_unaligned() };
    assert!(
        head == tag,
        "{what}: realloc lost the contents of block {ptr:p}"
    );
}
