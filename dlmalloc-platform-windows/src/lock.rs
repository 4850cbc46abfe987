//! The lock hooks: an `SRWLOCK` in the core's pointer-sized slot, and the
//! same lock for this crate's own state.
//!
//! An SRW lock is one pointer, and all zero bits are its unlocked state
//! (`SRWLOCK_INIT`), so the core's slot holds one directly with no set-up
//! and nothing to free. Uncontended, acquiring and releasing are one atomic
//! instruction each in user mode; contended, a waiter sleeps in the kernel
//! (a keyed event), so threads that outnumber the cores do not burn them
//! spinning. It is not recursive, which the core never needs, and it
//! never allocates.

use core::cell::UnsafeCell;
use core::ffi::c_void;

use windows_sys::Win32::System::Threading::{
    AcquireSRWLockExclusive, ReleaseSRWLockExclusive, SRWLOCK, SRWLOCK_INIT,
};

/// An SRW lock in a static: this crate's own state (the reservation table)
/// is guarded by one.
pub(crate) struct SrwLock(UnsafeCell<SRWLOCK>);

// SAFETY: an SRWLOCK is made to be shared between threads; it is only
// touched through the SRW functions, which synchronise.
unsafe impl Sync for SrwLock {}

impl SrwLock {
    /// An unlocked lock.
    pub(crate) const fn new() -> Self {
        Self(UnsafeCell::new(SRWLOCK_INIT))
    }

    /// Runs `f` with the lock held.
    pub(crate) fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the cell holds a live SRWLOCK that lives as long as self.
        unsafe { AcquireSRWLockExclusive(self.0.get()) };
        /// Releases on every way out of `f`, a panic included.
        struct Unlock<'a>(&'a SrwLock);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                // SAFETY: this thread acquired the lock above.
                unsafe { ReleaseSRWLockExclusive(self.0.0.get()) };
            }
        }
        let _unlock = Unlock(self);
        f()
    }
}

/// Prepares the slot `*lock` as an unlocked lock (`SRWLOCK_INIT`: zero).
///
/// # Safety
///
/// `lock` must point to a valid, pointer-aligned, writable slot, and no other
/// thread may use the lock during this call; otherwise the behavior is
/// undefined.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn init_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees the slot is valid and not in use; an
    // SRWLOCK is one pointer, so it fits the slot exactly.
    unsafe { lock.cast::<SRWLOCK>().write(SRWLOCK_INIT) };
}

/// Ends the use of the slot `*lock`. An SRW lock owns nothing beyond its
/// pointer, so there is nothing to free.
///
/// # Safety
///
/// The lock must be unlocked and unused from now on (until a new
/// `init_lock`); using it afterwards is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn final_lock(lock: *mut *mut c_void) {
    let _ = lock;
}

/// Blocks until the calling thread owns the lock in `*lock`
/// (`AcquireSRWLockExclusive`).
///
/// The lock is not recursive: a thread that acquires a lock it already
/// holds deadlocks.
///
/// # Safety
///
/// `lock` must point to a valid slot prepared by [`init_lock`] and not
/// finalised; otherwise the behavior is undefined.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn acquire_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees an initialised, live slot, which holds
    // an SRWLOCK (init_lock put one there).
    unsafe { AcquireSRWLockExclusive(lock.cast::<SRWLOCK>()) };
}

/// Releases the lock in `*lock` (`ReleaseSRWLockExclusive`), waking a
/// waiter if there is one.
///
/// # Safety
///
/// The calling thread must hold the lock (acquired with [`acquire_lock`]);
/// releasing a lock one does not hold is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn release_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees an initialised slot that it holds.
    unsafe { ReleaseSRWLockExclusive(lock.cast::<SRWLOCK>()) };
}
