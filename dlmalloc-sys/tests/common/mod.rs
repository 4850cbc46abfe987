//! Helpers the raw C API's tests share that depend on this crate's setup:
//! the page size the platform reports, rounding, and whether two blocks of
//! the global heap are neighbours. What every test crate shares (the
//! generator, patterns, heap checks, child processes) is in
//! `dlmalloc-test-support`.
//!
//! Nothing here allocates through the dl heap: the test harness itself runs
//! on the system allocator, so the heap only sees the tests' explicit calls.

// Each test binary includes this module and uses a different subset of it.
#![allow(dead_code)]

use core::ffi::c_void;

unsafe extern "C" {
    /// The optional page-size hook; dlmalloc-platform-std defines it from
    /// `sysconf(_SC_PAGESIZE)`.
    fn custom_page_size() -> usize;
}

/// The system page size, as the platform reports it to the core.
pub fn page_size() -> usize {
    // SAFETY: the hook takes no arguments and has no preconditions.
    let page = unsafe { custom_page_size() };
    assert!(
        page.is_power_of_two() && page >= 4096,
        "custom_page_size() returned {page}"
    );
    page
}

/// Rounds `n` up to a multiple of the power of two `to`.
pub fn round_up(n: usize, to: usize) -> usize {
    (n + to - 1) & !(to - 1)
}

/// True when block `b` starts right after block `a` ends: nothing but
/// chunk overhead (at most two words) between `a`'s usable bytes and `b`.
///
/// # Safety
///
/// `a` must be a live block of the global heap.
pub unsafe fn directly_follows(a: *const c_void, b: *const c_void) -> bool {
    // SAFETY: forwarded from the caller.
    let usable = unsafe { dlmalloc_sys::dlmalloc_usable_size(a) };
    let end = a as usize + usable;
    let b = b as usize;
    b >= end && b - end <= 2 * core::mem::size_of::<usize>()
}
