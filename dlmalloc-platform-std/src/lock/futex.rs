//! Linux and Android: the three-state futex mutex (Drepper, "Futexes Are
//! Tricky"). The state is 0 (unlocked), 1 (locked, no waiters) or 2 (locked,
//! waiters may be asleep). Only a release that sees 2 makes a system call.

use core::ptr;
use core::sync::atomic::AtomicU32;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// Spins on a held lock before going to sleep: long enough to cover a short
/// critical section on another core, short enough not to waste a time slice.
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
    let mut current = spin(state);
    if current == UNLOCKED {
        match state.compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed) {
            Ok(_) => return,
            Err(seen) => current = seen,
        }
    }
    loop {
        // Mark the lock contended before sleeping, so its owner wakes us. If
        // it was unlocked meanwhile we now own it, conservatively marked as
        // contended (at worst one needless wake-up on release).
        if current != CONTENDED && state.swap(CONTENDED, Acquire) == UNLOCKED {
            return;
        }
        futex_wait(state, CONTENDED);
        current = spin(state);
    }
}

/// Spins while the lock is held without waiters, up to [`SPIN_LIMIT`] times;
/// returns the last state seen.
fn spin(state: &AtomicU32) -> u32 {
    let mut spins = 0;
    loop {
        let current = state.load(Relaxed);
        if current != LOCKED || spins == SPIN_LIMIT {
            return current;
        }
        core::hint::spin_loop();
        spins += 1;
    }
}

/// Releases the lock.
#[inline(always)]
pub(super) fn release(state: &AtomicU32) {
    if state.swap(UNLOCKED, Release) == CONTENDED {
        futex_wake_one(state);
    }
}

/// Sleeps while `*state == expected`. Returns on a wake-up, a spurious
/// wake-up, a signal, or at once if the value already differs; the caller
/// re-checks in every case.
fn futex_wait(state: &AtomicU32, expected: u32) {
    // SAFETY: the address is a live, aligned u32 for the whole call and the
    // timeout pointer is null (wait without a time limit). FUTEX_WAIT only
    // reads the word and returns an error code we need not inspect.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            state.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ptr::null::<libc::timespec>(),
        );
    }
}

/// Wakes one thread sleeping on `state`.
#[cold]
fn futex_wake_one(state: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a live, aligned u32 only wakes waiters; it never
    // accesses the memory.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            state.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}
