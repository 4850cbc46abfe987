//! The lock hooks, and the spin lock of the page state: only in a build
//! with `-C target-feature=+atomics` (shared memory, threads on Web Workers
//! or wasi-threads). Without atomics a module has no shared memory and so
//! one thread: `dlmalloc-sys` then builds the core single-threaded, it
//! never calls the lock hooks, and this module is left out (lib.rs).
//!
//! The lock is a spin lock on an atomic word in the core's pointer-sized
//! slot. It never uses `memory.atomic.wait`, which traps on a browser's
//! main thread; the core holds its locks only for the few steps of one
//! heap operation, so spinning is short.
//!
//! Nothing here allocates.

use core::ffi::c_void;
use core::hint;
use core::sync::atomic::{AtomicU32, Ordering};

/// A spin lock on one atomic word: 0 free, 1 held (the page state's lock
/// in a build with atomics).
pub(crate) struct SpinLock(AtomicU32);

impl SpinLock {
    /// A new, unlocked lock.
    pub(crate) const fn new() -> Self {
        SpinLock(AtomicU32::new(0))
    }

    /// Spins until this caller owns the lock.
    pub(crate) fn acquire(&self) {
        spin_acquire(&self.0);
    }

    /// Releases the lock.
    pub(crate) fn release(&self) {
        self.0.store(0, Ordering::Release);
    }
}

/// Spins until `state` goes from 0 to 1 under this caller.
fn spin_acquire(state: &AtomicU32) {
    while state
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        // Wait with plain loads until it looks free.
        while state.load(Ordering::Relaxed) != 0 {
            hint::spin_loop();
        }
    }
}

/// The lock word in the core's slot.
///
/// # Safety
///
/// `lock` must point to a live, pointer-aligned slot that is only accessed
/// atomically while the returned reference is used; otherwise the behavior
/// is undefined.
unsafe fn state<'a>(lock: *mut *mut c_void) -> &'a AtomicU32 {
    // SAFETY: on wasm32 a pointer-sized, pointer-aligned slot has the size
    // and alignment of an AtomicU32; the caller guarantees it is live and
    // only accessed atomically through the hooks.
    unsafe { AtomicU32::from_ptr(lock.cast::<u32>()) }
}

/// Prepares the slot `*lock` as an unlocked lock (0).
///
/// # Safety
///
/// `lock` must point to a valid, pointer-aligned, writable slot, and no other
/// thread may use the lock during this call; otherwise the behavior is
/// undefined.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn init_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees the slot is valid and not in use.
    unsafe { lock.write(core::ptr::null_mut()) };
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
/// Spins (compare-and-swap, then plain loads with the spin-loop hint) and
/// never calls `memory.atomic.wait`, so it is usable on a browser's
/// main thread. Not recursive; the core never takes a lock it holds.
///
/// # Safety
///
/// `lock` must point to a valid slot prepared by [`init_lock`] and not
/// finalised; otherwise the behavior is undefined.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn acquire_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees an initialised, live slot.
    spin_acquire(unsafe { state(lock) });
}

/// Releases the lock in `*lock`.
///
/// One atomic store.
///
/// # Safety
///
/// The caller must hold the lock (acquired with [`acquire_lock`]); anything
/// else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn release_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees an initialised slot it holds.
    unsafe { state(lock) }.store(0, Ordering::Release);
}
