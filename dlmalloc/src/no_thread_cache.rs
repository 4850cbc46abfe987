//! The thread cache's interface when there is no cache (feature
//! `thread-cache` off, or a target other than Linux): it serves nothing, so
//! [`DLMalloc`](crate::DLMalloc) goes straight to the heap and the compiler
//! drops the cache's branches. Keeping the interface lets `global.rs` call
//! the cache without a `cfg` of its own.

/// Never: every request goes to the heap.
#[inline(always)]
pub(crate) fn serves(_size: usize, _align: usize) -> bool {
    false
}

/// Unreachable: [`serves`] is false.
#[inline(always)]
pub(crate) fn take(_size: usize) -> *mut u8 {
    core::ptr::null_mut()
}

/// Unreachable: [`serves`] is false.
#[inline(always)]
pub(crate) fn alloc(_size: usize) -> *mut u8 {
    core::ptr::null_mut()
}

/// Unreachable: [`serves`] is false.
///
/// # Safety
///
/// None needed; it keeps the real cache's signature.
#[inline(always)]
pub(crate) unsafe fn keep(_block: *mut u8, _size: usize) -> bool {
    false
}

/// Unreachable: [`serves`] is false.
///
/// # Safety
///
/// None needed; it keeps the real cache's signature.
#[inline(always)]
pub(crate) unsafe fn free(_block: *mut u8, _size: usize) -> bool {
    false
}

/// Unreachable: [`serves`] is false.
#[inline(always)]
pub(crate) fn moves_between(_old_size: usize, _new_size: usize) -> bool {
    false
}

/// Nothing to ready.
///
/// # Safety
///
/// None needed; it keeps the real cache's signature.
#[inline(always)]
pub(crate) unsafe fn prepare(_block: *mut u8) {}

/// No cache to flush.
#[inline(always)]
pub(crate) fn flush_all() {}

/// No arenas: every block is the global heap's.
#[inline(always)]
pub(crate) fn in_arena(_block: *mut u8) -> bool {
    false
}

/// Unreachable: [`in_arena`] is false.
///
/// # Safety
///
/// None needed; it keeps the real cache's signature.
#[inline(always)]
pub(crate) unsafe fn free_arena_block(_block: *mut u8) {}

/// No arenas: the global heap serves.
#[inline(always)]
pub(crate) fn alloc_in_arena(_layout: core::alloc::Layout) -> *mut u8 {
    core::ptr::null_mut()
}

/// No arenas serve anything.
#[inline(always)]
pub(crate) fn arena_serves(_size: usize, _align: usize) -> bool {
    false
}
