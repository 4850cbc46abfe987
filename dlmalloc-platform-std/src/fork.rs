//! Fork safety: registers the core's `pthread_atfork` handlers, once.
//!
//! A thread may hold a heap lock at the moment another thread calls `fork`.
//! The child is a copy with only the forking thread, so that lock would stay
//! held forever and the child's first allocation would deadlock. The core's
//! handlers prevent this: "prepare" takes every heap lock before the fork
//! (so the heap is consistent when copied), "parent" releases them, and
//! "child" re-initialises them with [`init_lock`](crate::init_lock).

use core::sync::atomic::{AtomicBool, Ordering};

/// Set once the handlers are registered (or being registered). The child of
/// a fork inherits `true`, so the child's `init_lock` calls never register a
/// second time.
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// Registers the core's fork handlers on the first call; later calls do
/// nothing.
///
/// Called from `init_lock`, which the core runs before any heap is used, so
/// the handlers are in place before the first allocation. `pthread_atfork`
/// may allocate, but with the C library's own `malloc`, never with this
/// allocator, so this cannot re-enter the heap being initialised.
pub(crate) fn register_once() {
    if REGISTERED
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return;
    }
    // SAFETY: the three handlers are functions of the core with the
    // signature pthread_atfork expects, and they only take, release or
    // re-initialise the core's own locks.
    let failed = unsafe {
        libc::pthread_atfork(
            Some(dlmalloc_sys::dlmalloc_atfork_prepare),
            Some(dlmalloc_sys::dlmalloc_atfork_parent),
            Some(dlmalloc_sys::dlmalloc_atfork_child),
        )
    } != 0;
    if failed {
        // Out of memory in the C library: let the next init_lock try again.
        REGISTERED.store(false, Ordering::Release);
    }
}
