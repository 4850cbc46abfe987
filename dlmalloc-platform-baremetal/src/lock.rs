//! The lock hooks, and the lock of the global page allocator. Both are of
//! one kind, chosen at build time, one file each:
//!
//! - default (`lock/spinning.rs`): a spin lock. Correct on any number of
//!   cores as long as no interrupt or exception handler allocates.
//! - feature `critical-section` (`lock/critical.rs`): a critical section
//!   (`critical_section::acquire`/`release`; interrupts off on a single-core
//!   MCU). Needed when handlers allocate: a handler that interrupts code
//!   holding a spin lock would spin forever on it, because the holder cannot
//!   run until the handler returns.
//!
//! The heap lock lives in the core's pointer-sized slot; nothing here
//! allocates.

use core::ffi::c_void;
use core::ptr;

#[cfg(feature = "critical-section")]
mod critical;
#[cfg(feature = "critical-section")]
use critical as imp;
#[cfg(not(feature = "critical-section"))]
mod spinning;
#[cfg(not(feature = "critical-section"))]
use spinning as imp;

pub(crate) use imp::Mutex;

/// Prepares the slot `*lock` as an unlocked lock.
///
/// # Safety
///
/// `lock` must point to a valid, pointer-aligned, writable slot, and no other
/// thread or handler may use the lock during this call; otherwise the
/// behavior is undefined.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn init_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees the slot is valid and not in use.
    unsafe { lock.write(ptr::null_mut()) };
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

/// Waits until the caller owns the lock in `*lock`.
///
/// Default build: spins (with the processor's spin-loop hint) until the
/// lock is free; uncontended, one compare-and-swap. With the
/// `critical-section` feature: enters a critical section and keeps its
/// restore state in the slot. The lock is not recursive; the core never
/// takes a lock it already holds, and releases nested locks in reverse
/// order.
///
/// # Safety
///
/// `lock` must point to a valid slot prepared by [`init_lock`] and not
/// finalised; otherwise the behavior is undefined.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn acquire_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees an initialised, live slot.
    unsafe { imp::acquire(lock) };
}

/// Releases the lock in `*lock`.
///
/// Default build: one atomic store. With the `critical-section` feature:
/// leaves the critical section, restoring the state saved by
/// [`acquire_lock`] (interrupts come back on only when this was the
/// outermost critical section).
///
/// # Safety
///
/// The caller must hold the lock (acquired with [`acquire_lock`]), and with
/// the `critical-section` feature locks must be released in the reverse
/// order of acquiring them; anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn release_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees an initialised slot it holds.
    unsafe { imp::release(lock) };
}
