//! The lock hooks: a spin lock that lives in the core's pointer-sized slot,
//! with counters of acquisitions and contended acquisitions.
//!
//! The core owns the slot (a `void *` inside its heap state) and passes its
//! address to every hook; the lock keeps its whole state there, 0 for free
//! and 1 for held. The core uses several slots: one for the global heap, one
//! for its internal registry of locked mspaces, and one per mspace created
//! with a lock. The counters here sum over all of them.
//!
//! A spin lock suits a port where the heap is held for short, bounded
//! times and the threads that contend run on other cores. On a single core
//! where an interrupt handler may allocate, a spin lock deadlocks (the
//! handler spins on a lock the code it interrupted holds): use a critical
//! section instead, saving the interrupt state in the slot on acquire and
//! restoring it on release. On an RTOS with a scheduler, a spinning
//! high-priority task can starve the low-priority holder: use the kernel's
//! mutex (its handle in the slot) or yield to the scheduler, as
//! [`spin_acquire`] does here on the host.

use core::ffi::c_void;
use core::hint;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Slot value of a free lock.
const FREE: usize = 0;
/// Slot value of a held lock.
const HELD: usize = 1;
/// Busy-wait rounds before a waiter starts yielding the processor.
const SPINS_BEFORE_YIELD: u32 = 100;

/// Calls to [`acquire_lock`], over all lock slots.
static ACQUISITIONS: AtomicU64 = AtomicU64::new(0);
/// Calls to [`acquire_lock`] that found the lock held and had to wait.
static CONTENDED: AtomicU64 = AtomicU64::new(0);
/// Calls to [`init_lock`].
static INITIALISED: AtomicU64 = AtomicU64::new(0);
/// Calls to [`final_lock`].
static FINALISED: AtomicU64 = AtomicU64::new(0);

/// Takes the spin lock `word` (0 free, 1 held), waiting as long as needed.
/// Returns whether it had to wait.
///
/// Waits by spinning, and after [`SPINS_BEFORE_YIELD`] rounds by also
/// yielding the processor: this example runs on a host with more threads
/// than cores, where the holder may be preempted. Replace the yield with
/// your scheduler's, or drop it where nothing can preempt the holder.
///
/// [`pages`](super::pages) guards its pool with the same function.
pub(crate) fn spin_acquire(word: &AtomicUsize) -> bool {
    if word
        .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return false;
    }
    let mut spins = 0u32;
    loop {
        // Wait with plain loads until the lock looks free, so waiters do not
        // keep stealing the cache line from the holder.
        while word.load(Ordering::Relaxed) != FREE {
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                hint::spin_loop();
            } else {
                // sched_yield(2) underneath; it does not allocate.
                std::thread::yield_now();
            }
        }
        if word
            .compare_exchange_weak(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return true;
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
/// `lock` must point to a live, pointer-aligned slot that, while the
/// returned reference is used, is accessed only through these hooks (hence
/// only atomically); otherwise the behavior is undefined.
unsafe fn word<'a>(lock: *mut *mut c_void) -> &'a AtomicUsize {
    // SAFETY: a `void *` slot has the size and alignment of `usize`, which
    // is what `AtomicUsize` needs; the caller guarantees it is live and only
    // accessed atomically meanwhile.
    unsafe { AtomicUsize::from_ptr(lock.cast::<usize>()) }
}

/// Prepares the slot `*lock` as a free lock.
///
/// **The core guarantees:** `lock` points to a pointer-sized,
/// pointer-aligned, writable slot inside the core's memory (a static for the
/// global heap, the heap's first segment for an mspace). The slot is zero
/// when this is called, and nobody uses the lock during the call. It is
/// called before the first [`acquire_lock`] on the slot: for the global heap
/// on the first call into the allocator, for an mspace when it is created.
/// The core's fork-child handler (`dlmalloc_atfork_child`) zeroes a slot and
/// calls this again, possibly on a lock that was held in the parent.
///
/// **You must guarantee:** afterwards the slot holds a free lock. If your
/// lock needs a resource (a kernel mutex handle), create it here, store its
/// handle in the slot, and do not allocate it through this allocator.
///
/// # Safety
///
/// `lock` must point to a valid, pointer-aligned, writable slot that no
/// other thread uses during the call; anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn init_lock(lock: *mut *mut c_void) {
    INITIALISED.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the caller guarantees a valid slot not in use by anyone else.
    unsafe { word(lock) }.store(FREE, Ordering::Release);
}

/// Ends the use of the slot `*lock`.
///
/// **The core guarantees:** the lock was initialised with [`init_lock`], is
/// free, and is never used again (the core calls this from
/// `destroy_mspace`, just before it gives the mspace's memory, slot
/// included, back through `custom_munmap`).
///
/// **You must guarantee:** release whatever [`init_lock`] created. This
/// lock owns nothing beyond the slot, so there is nothing to release.
///
/// # Safety
///
/// `lock` must point to a slot initialised by [`init_lock`], free, and not
/// used afterwards; anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn final_lock(lock: *mut *mut c_void) {
    FINALISED.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the caller guarantees an initialised slot nobody else uses.
    let held = unsafe { word(lock) }.load(Ordering::Relaxed);
    debug_assert_eq!(held, FREE, "final_lock on a held lock");
}

/// Blocks until the calling thread owns the lock in `*lock`.
///
/// **The core guarantees:** the slot was initialised with [`init_lock`] and
/// not finalised, and the calling thread does not already hold this lock
/// (the core never takes a lock recursively). The core may hold *another*
/// of its locks while taking this one: its fork handler
/// `dlmalloc_atfork_prepare` takes every lock at once.
///
/// **You must guarantee:** on return the caller owns the lock, and
/// everything written before the matching [`release_lock`] by the previous
/// owner is visible (acquire ordering). The function must not allocate
/// through this allocator.
///
/// Counts every call, and every call that found the lock held. The counters
/// cost one extra atomic add on the allocator's fast path; a production
/// port would leave them out or keep them per core.
///
/// # Safety
///
/// `lock` must point to a slot initialised by [`init_lock`] and not
/// finalised; anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn acquire_lock(lock: *mut *mut c_void) {
    ACQUISITIONS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the caller guarantees an initialised, live slot.
    if spin_acquire(unsafe { word(lock) }) {
        CONTENDED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Releases the lock in `*lock`.
///
/// **The core guarantees:** the calling thread holds the lock (it took it
/// with [`acquire_lock`]).
///
/// **You must guarantee:** the lock is free afterwards, and everything the
/// caller wrote while holding it is visible to the next owner (release
/// ordering).
///
/// # Safety
///
/// The calling thread must hold the lock; releasing a lock one does not
/// hold is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn release_lock(lock: *mut *mut c_void) {
    // SAFETY: the caller guarantees an initialised slot that it holds.
    spin_release(unsafe { word(lock) });
}

/// A snapshot of the lock counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockCounters {
    /// Calls to `acquire_lock`.
    pub acquisitions: u64,
    /// Of those, the calls that found the lock held and waited.
    pub contended: u64,
    /// Calls to `init_lock`.
    pub initialised: u64,
    /// Calls to `final_lock`.
    pub finalised: u64,
}

/// Reads the lock counters (each exact on its own; read while other threads
/// allocate, they may be from slightly different moments).
pub fn counters() -> LockCounters {
    LockCounters {
        acquisitions: ACQUISITIONS.load(Ordering::Relaxed),
        contended: CONTENDED.load(Ordering::Relaxed),
        initialised: INITIALISED.load(Ordering::Relaxed),
        finalised: FINALISED.load(Ordering::Relaxed),
    }
}
