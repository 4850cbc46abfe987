//! The lock hooks: a spin lock that keeps its whole state in the core's
//! pointer-sized slot (0 free, 1 held), and the same spin lock for this
//! platform's own page state.
//!
//! Waiters yield the processor after a short spin: the tests run on hosts
//! with more threads than cores, where the holder may be preempted.

use core::ffi::c_void;
use core::hint;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Slot value of a free lock.
const FREE: usize = 0;
/// Slot value of a held lock.
const HELD: usize = 1;
/// Busy-wait rounds before a waiter starts yielding.
const SPINS_BEFORE_YIELD: u32 = 64;

/// Takes the spin lock `word`, waiting as long as needed.
pub(crate) fn spin_acquire(word: &AtomicUsize) {
    let mut spins = 0u32;
    while word
        .compare_exchange_weak(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        // Wait with plain loads so waiters do not keep stealing the line.
        while word.load(Ordering::Relaxed) != FREE {
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                hint::spin_loop();
            } else {
                // sched_yield(2); it does not allocate.
                std::thread::yield_now();
            }
        }
    }
}

/// Releases the spin lock `word` taken with [`spin_acquire`].
pub(crate) fn spin_release(word: &AtomicUsize) {
    word.store(FREE, Ordering::Release);
}

/// The core's lock slot seen as the lock word.
///
/// # Safety
///
/// `lock` must point to a live, pointer-aligned slot that is accessed only
/// through these hooks (hence only atomically) while the reference is used;
/// otherwise the behavior is undefined.
unsafe fn word<'a>(lock: *mut *mut c_void) -> &'a AtomicUsize {
    // SAFETY: a `void *` slot has the size and alignment of `usize`; the
    // caller guarantees it is live and only accessed atomically meanwhile.
    unsafe { AtomicUsize::from_ptr(lock.cast::<usize>()) }
}

/// Prepares the slot `*lock` as a free lock.
///
/// # Safety
///
/// `lock` must point to a valid, pointer-aligned, writable slot that no
/// other thread uses during the call; anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn init_lock(lock: *mut *mut c_void) {
    // SAFETY: the core passes a valid slot nobody else uses yet.
    unsafe { word(lock) }.store(FREE, Ordering::Release);
}

/// Ends the use of the slot `*lock`; the lock owns nothing else.
///
/// # Safety
///
/// `lock` must point to a slot initialised by [`init_lock`], free and not
/// used afterwards; anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn final_lock(lock: *mut *mut c_void) {
    // SAFETY: the core passes an initialised slot that nobody else uses.
    let state = unsafe { word(lock) }.load(Ordering::Relaxed);
    debug_assert_eq!(state, FREE, "final_lock on a held lock");
}

/// Blocks until the calling thread owns the lock in `*lock`.
///
/// # Safety
///
/// `lock` must point to a slot initialised by [`init_lock`] and not
/// finalised, and the caller must not hold it already; anything else is
/// undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn acquire_lock(lock: *mut *mut c_void) {
    // SAFETY: the core passes an initialised, live slot.
    spin_acquire(unsafe { word(lock) });
}

/// Releases the lock in `*lock`.
///
/// # Safety
///
/// The calling thread must hold the lock; anything else is undefined
/// behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn release_lock(lock: *mut *mut c_void) {
    // SAFETY: the core passes an initialised slot that the caller holds.
    spin_release(unsafe { word(lock) });
}
