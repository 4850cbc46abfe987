//! The default lock kind: spinning on an atomic word.
//!
//! The heap lock is an `AtomicUsize` in the core's slot (0 free, 1 held);
//! the page allocator uses `spin`'s mutex.

use core::ffi::c_void;
use core::hint;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The lock state stored in `*lock`.
///
/// # Safety
///
/// `lock` must point to a live, pointer-aligned slot that is only accessed
/// atomically while the returned reference is used; otherwise the behavior
/// is undefined.
unsafe fn state<'a>(lock: *mut *mut c_void) -> &'a AtomicUsize {
    // SAFETY: a pointer-sized, pointer-aligned slot has the size and
    // alignment of an AtomicUsize; the caller guarantees it is live and only
    // accessed atomically through the hooks.
    unsafe { AtomicUsize::from_ptr(lock.cast::<usize>()) }
}

/// Spins until the slot goes from 0 to 1 under this caller.
///
/// # Safety
///
/// As for `acquire_lock`.
pub(super) unsafe fn acquire(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees an initialised, live slot.
    let state = unsafe { state(lock) };
    while state
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        // Wait with plain loads (no cache-line ping-pong) until it looks free.
        while state.load(Ordering::Relaxed) != 0 {
            hint::spin_loop();
        }
    }
}

/// Sets the slot back to 0.
///
/// # Safety
///
/// As for `release_lock`.
pub(super) unsafe fn release(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees an initialised slot it holds.
    unsafe { state(lock) }.store(0, Ordering::Release);
}

/// The page allocator's lock: a spin mutex.
pub(crate) struct Mutex<T>(spin::mutex::SpinMutex<T>);

impl<T> Mutex<T> {
    /// A new, unlocked mutex.
    pub(crate) const fn new(value: T) -> Self {
        Mutex(spin::mutex::SpinMutex::new(value))
    }

    /// Runs `f` on the value with the lock held.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.lock())
    }
}
