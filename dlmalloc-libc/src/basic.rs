//! `malloc`, `free`, `calloc`, `realloc`, `reallocarray` and
//! `malloc_usable_size`, over [`DLMalloc`]: the same heap, per-thread cache
//! and per-thread arenas as a Rust program's global allocator.
//!
//! C's `free` does not say how large a block is, but [`DLMalloc`] files a
//! freed block by size. The size is read from the block's chunk header
//! (its usable bytes, which the block really holds), so the cache takes
//! the block as if it had been allocated with that size. A header that
//! does not mark an in-use chunk, or marks one with a mapping of its own,
//! sends the block to the core's `dlfree`/`dlrealloc`, which frees the
//! mapping or reports the misuse (a double free, a pointer it never
//! returned) through `custom_abort`.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use core::ptr::null_mut;

use dlmalloc::{DLMalloc, raw};

use crate::errno::{self, ENOMEM};

/// The alignment of every block `malloc`, `calloc` and `realloc` return:
/// two pointers, the core's `MALLOC_ALIGNMENT` (16 bytes on 64-bit
/// targets, enough for `max_align_t`).
pub(crate) const ALIGN: usize = raw::MALLOC_ALIGNMENT;

/// A fresh block of at least `size` bytes (one byte when `size` is 0, so
/// each call returns a distinct pointer) aligned to `align`, a power of
/// two of at least [`ALIGN`]; null with `errno` set to `ENOMEM` when the
/// size cannot be had. Inlined into each caller, where `align` is usually a
/// constant and the layout's checks fold into one comparison.
#[inline(always)]
pub(crate) fn allocate(size: usize, align: usize) -> *mut c_void {
    let Ok(layout) = Layout::from_size_align(size.max(1), align) else {
        return out_of_memory();
    };
    // SAFETY: the layout's size is not zero.
    let block = unsafe { DLMalloc.alloc(layout) };
    if block.is_null() {
        return out_of_memory();
    }
    block.cast()
}

/// Sets `errno` to `ENOMEM` and returns null: every failed allocation's
/// answer. Out of line: failure is rare, and the fast paths stay short.
#[cold]
#[inline(never)]
pub(crate) fn out_of_memory() -> *mut c_void {
    errno::set(ENOMEM);
    null_mut()
}

/// The layout `DLMalloc` sees for a block that holds `usable` bytes.
#[inline]
fn held(usable: usize) -> Layout {
    // SAFETY: `usable` is what an existing block holds, so it is below
    // isize::MAX, and ALIGN is a power of two.
    unsafe { Layout::from_size_align_unchecked(usable, ALIGN) }
}

/// Allocates `size` bytes aligned to 16 bytes (8 on 32-bit targets), C's
/// `malloc`. `malloc(0)` returns a distinct block that `free` accepts.
/// Returns null and sets `errno` to `ENOMEM` when memory is exhausted.
#[unsafe(no_mangle)]
pub extern "C" fn malloc(size: usize) -> *mut c_void {
    allocate(size, ALIGN)
}

/// Frees `block`, C's `free`; null does nothing.
///
/// # Safety
///
/// `block` is null or a live block returned by this crate's functions (or
/// by `DLMalloc` or the core's global heap), not used again afterwards. A
/// block freed twice, or a pointer the heap never returned, is detected
/// as far as the headers allow and ends in `custom_abort`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(block: *mut c_void) {
    if block.is_null() {
        return;
    }
    // SAFETY: a block of the heaps, so its header word is readable.
    match unsafe { raw::usable_size_in_use_unmapped(block) } {
        // SAFETY: a live block that holds `usable` bytes, given up.
        Some(usable) => unsafe { DLMalloc.dealloc(block.cast(), held(usable)) },
        // SAFETY: the core frees a mapped block and reports a freed one.
        None => unsafe { raw::dlfree(block) },
    }
}

/// Allocates `count * size` zeroed bytes, C's `calloc`. Returns null and
/// sets `errno` to `ENOMEM` when the product overflows or memory is
/// exhausted.
#[unsafe(no_mangle)]
pub extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    let Some(bytes) = count.checked_mul(size) else {
        return out_of_memory();
    };
    let Ok(layout) = Layout::from_size_align(bytes.max(1), ALIGN) else {
        return out_of_memory();
    };
    // SAFETY: the layout's size is not zero.
    let block = unsafe { DLMalloc.alloc_zeroed(layout) };
    if block.is_null() {
        return out_of_memory();
    }
    block.cast()
}

/// Resizes `block` to `size` bytes, C's `realloc`: in place when it can,
/// else by moving the contents (up to the smaller size) to a new block.
/// A null `block` allocates; a `size` of 0 frees `block` and returns null,
/// as glibc does. On failure it returns null, sets `errno` to `ENOMEM`,
/// and `block` stays as it was.
///
/// # Safety
///
/// `block` is null or a live block of this allocator, as for [`free`];
/// after a non-null return only the returned pointer may be used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(block: *mut c_void, size: usize) -> *mut c_void {
    if block.is_null() {
        return malloc(size);
    }
    if size == 0 {
        // SAFETY: a live block, given up (contract).
        unsafe { free(block) };
        return null_mut();
    }
    if size > isize::MAX as usize - ALIGN {
        return out_of_memory();
    }
    // SAFETY: a block of the heaps, so its header word is readable.
    let resized = match unsafe { raw::usable_size_in_use_unmapped(block) } {
        // SAFETY: a live block holding `usable` bytes; `size` is not zero
        // and forms a valid layout with ALIGN (checked above).
        Some(usable) => unsafe { DLMalloc.realloc(block.cast(), held(usable), size) }.cast(),
        // SAFETY: the core resizes a mapped block and reports a freed one.
        None => unsafe { raw::dlrealloc(block, size) },
    };
    if resized.is_null() {
        return out_of_memory();
    }
    resized
}

/// `realloc(block, count * size)`, failing with null and `errno` set to
/// `ENOMEM` (and `block` unchanged) when the product overflows.
///
/// # Safety
///
/// As for [`realloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn reallocarray(
    block: *mut c_void,
    count: usize,
    size: usize,
) -> *mut c_void {
    match count.checked_mul(size) {
        // SAFETY: the caller's contract is realloc's.
        Some(bytes) => unsafe { realloc(block, bytes) },
        None => out_of_memory(),
    }
}

/// The bytes `block` can hold, at least what was asked for; 0 for null.
///
/// # Safety
///
/// `block` is null or a live block of this allocator.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc_usable_size(block: *mut c_void) -> usize {
    // SAFETY: null or a live block of the heaps (contract).
    unsafe { raw::dlmalloc_usable_size(block) }
}
