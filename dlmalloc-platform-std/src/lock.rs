//! The lock hooks: a non-recursive mutex that lives in the core's one
//! pointer-sized slot and sleeps (does not spin) under contention.
//!
//! The slot's first 32 bits hold the lock state; a slot is pointer aligned,
//! so they are suitably aligned for an `AtomicU32`. How a waiter sleeps is
//! the platform-specific part, one file each:
//!
//! - Linux and Android (`lock/futex.rs`): a futex, the classic three-state
//!   mutex; waiters sleep in the kernel.
//! - Other Unix (`lock/yielding.rs`): a short spin, then `sched_yield` in a
//!   loop.
//!
//! Nothing here allocates, and the uncontended acquire and release are one
//! atomic instruction each: this is the allocator's fast path.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::AtomicU32;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod futex;
#[cfg(any(target_os = "linux", target_os = "android"))]
use futex as imp;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod yielding;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
use yielding as imp;

/// The lock state stored in `*lock`.
///
/// # Safety
///
/// `lock` must point to a live, pointer-aligned slot that is only accessed
/// through these hooks while the returned reference is used; otherwise the
/// behavior is undefined.
#[inline(always)]
unsafe fn state<'a>(lock: *mut *mut c_void) -> &'a AtomicU32 {
    // SAFETY: a pointer-sized slot is at least 4 bytes and pointer aligned,
    // hence aligned for u32; the caller guarantees it is live and accessed
    // only atomically through these hooks.
    unsafe { AtomicU32::from_ptr(lock.cast::<u32>()) }
}

/// Prepares the slot `*lock` as an unlocked lock.
///
/// The first call in the process also registers the core's fork handlers
/// (see the crate docs). In the child of a `fork` the core calls this again
/// on a slot that may be held: it simply resets it to unlocked.
///
/// # Safety
///
/// `lock` must point to a valid, pointer-aligned, writable slot, and no other
/// thread may use the lock during this call; otherwise the behavior is
/// undefined.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn init_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees the slot is valid and not in use.
    unsafe { lock.write(ptr::null_mut()) };
    crate::fork::register_once();
}

/// Ends the use of the slot `*lock`. Nothing needs to be released: the lock
/// owns no resource beyond the slot itself.
///
/// # Safety
///
/// The lock must be unlocked and unused from now on (until a new
/// `init_lock`); using it afterwards is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn final_lock(lock: *mut *mut c_void) {
    let _ = lock;
}

/// Blocks until the calling thread owns the lock in `*lock`.
///
/// Uncontended, this is one compare-and-swap. Contended, it spins briefly
/// and then sleeps (Linux, Android) or yields the processor (other Unix)
/// until the lock is released. The lock is not recursive: a thread that
/// acquires a lock it already holds deadlocks.
///
/// # Safety
///
/// `lock` must point to a valid slot prepared by [`init_lock`] and not
/// finalised; otherwise the behavior is undefined.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn acquire_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees an initialised, live slot.
    imp::acquire(unsafe { state(lock) });
}

/// Releases the lock in `*lock`, waking one waiter if there is one.
///
/// Uncontended, this is one atomic swap (Linux, Android) or store (other
/// Unix).
///
/// # Safety
///
/// The calling thread must hold the lock (acquired with [`acquire_lock`]);
/// releasing a lock one does not hold is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn release_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees an initialised, live slot it holds.
    imp::release(unsafe { state(lock) });
}
