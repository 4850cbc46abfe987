//! Unix without a futex (macOS, the BSDs, ...): a test-and-set lock whose
//! waiters spin briefly and then call `sched_yield` until it is free.
//!
//! This gives the processor to the owner instead of burning a time slice, but
//! it is not a true sleep: with many more waiting threads than cores, waiters
//! keep being scheduled. A port that needs better behaviour there can add a
//! file for its native wait primitive (`__ulock_wait`, `_umtx_op`, ...).
//! State: 0 unlocked, 1 locked.

use core::sync::atomic::AtomicU32;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;

/// Spins on a held lock before starting to yield.
const SPIN_LIMIT: u32 = 100;

/// Takes the lock.
#[inline(always)]
pub(super) fn acquire(state: &AtomicU32) {
    if state
        .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
        .is_err()
    {
        acquire_contended(state);
    }
}

#[cold]
fn acquire_contended(state: &AtomicU32) {
    let mut spins = 0;
    loop {
        if state.load(Relaxed) == UNLOCKED
            && state
                .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
                .is_ok()
        {
            return;
        }
        if spins < SPIN_LIMIT {
            core::hint::spin_loop();
            spins += 1;
        } else {
            // SAFETY: sched_yield has no preconditions.
            unsafe { libc::sched_yield() };
        }
    }
}

/// Releases the lock.
#[inline(always)]
pub(super) fn release(state: &AtomicU32) {
    state.store(UNLOCKED, Release);
}
