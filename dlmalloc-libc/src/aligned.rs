//! The aligned allocations: `posix_memalign`, `aligned_alloc`, `memalign`,
//! `valloc` and `pvalloc`. Alignments up to the default one take
//! `malloc`'s path (and its per-thread cache); larger ones come from the
//! global heap. Every block is freed with `free` and resized with
//! `realloc` (which keeps only the default alignment, as C's does).

use core::ffi::{c_int, c_void};

use dlmalloc::raw;

use crate::basic::{ALIGN, allocate, out_of_memory};
use crate::errno::{self, EINVAL};

/// A block of `size` bytes aligned to `align`, a power of two.
#[inline]
fn aligned(align: usize, size: usize) -> *mut c_void {
    allocate(size, align.max(ALIGN))
}

/// Stores in `*out` a block of `size` bytes aligned to `align`, which must
/// be a power of two and a multiple of the pointer size. Returns 0, or
/// `EINVAL` for a bad alignment or `ENOMEM` when memory is exhausted; then
/// `*out` is unchanged.
///
/// # Safety
///
/// `out` is valid for a pointer-sized write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || align % size_of::<*mut c_void>() != 0 {
        return EINVAL;
    }
    let block = aligned(align, size);
    if block.is_null() {
        return crate::errno::ENOMEM;
    }
    // SAFETY: `out` is valid for writes (contract).
    unsafe { out.write(block) };
    0
}

/// A block of `size` bytes aligned to `align`, C11's `aligned_alloc`. An
/// alignment that is not a power of two gives null with `errno` set to
/// `EINVAL` (as glibc 2.38 and C17 do); exhaustion gives null with `ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    if !align.is_power_of_two() {
        errno::set(EINVAL);
        return core::ptr::null_mut();
    }
    aligned(align, size)
}

/// A block of `size` bytes aligned to `align`, the old `memalign`. As in
/// glibc, an alignment that is not a power of two is rounded up to one;
/// one above half the address space gives null with `errno` set to
/// `EINVAL`.
#[unsafe(no_mangle)]
pub extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    let Some(align) = align.checked_next_power_of_two() else {
        errno::set(EINVAL);
        return core::ptr::null_mut();
    };
    aligned(align, size)
}

/// A block of `size` bytes aligned to the page size.
#[unsafe(no_mangle)]
pub extern "C" fn valloc(size: usize) -> *mut c_void {
    // SAFETY: dlvalloc has no preconditions.
    let block = unsafe { raw::dlvalloc(size) };
    if block.is_null() {
        return out_of_memory();
    }
    block
}

/// A block of `size` bytes rounded up to whole pages, aligned to the page
/// size.
#[unsafe(no_mangle)]
pub extern "C" fn pvalloc(size: usize) -> *mut c_void {
    // SAFETY: dlpvalloc has no preconditions.
    let block = unsafe { raw::dlpvalloc(size) };
    if block.is_null() {
        return out_of_memory();
    }
    block
}
