//! Under contention the lock sleeps instead of spinning: while one thread
//! holds it, four waiting threads use almost no processor time.
//!
//! Linux and Android only: other Unix targets use a spin-then-yield lock,
//! whose waiters stay runnable by design.
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use dlmalloc_platform_std::{acquire_lock, init_lock, release_lock};

const WAITERS: usize = 4;
const HOLD: Duration = Duration::from_millis(400);

struct Slot(UnsafeCell<*mut c_void>);

// SAFETY: the slot is only accessed through the lock hooks, which access it
// atomically.
unsafe impl Sync for Slot {}

impl Slot {
    fn get(&self) -> *mut *mut c_void {
        self.0.get()
    }
}

/// Processor time used so far by all threads of this process.
fn process_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

#[test]
fn waiters_sleep_while_the_lock_is_held() {
    let slot = Slot(UnsafeCell::new(ptr::null_mut()));
    let acquired = AtomicUsize::new(0);
    // SAFETY: the slot is valid, pointer aligned and not yet shared.
    unsafe { init_lock(slot.get()) };
    // SAFETY: initialised above; released by this thread below.
    unsafe { acquire_lock(slot.get()) };

    let (used, acquired_during_hold) = thread::scope(|scope| {
        for _ in 0..WAITERS {
            scope.spawn(|| {
                // SAFETY: the slot outlives the scope; this thread releases
                // only what it acquired.
                unsafe { acquire_lock(slot.get()) };
                acquired.fetch_add(1, Ordering::Relaxed);
                // SAFETY: this thread holds the lock.
                unsafe { release_lock(slot.get()) };
            });
        }
        // Let the waiters reach the lock and finish their short spin.
        thread::sleep(Duration::from_millis(50));
        let before = process_cpu_time();
        thread::sleep(HOLD);
        let used = process_cpu_time() - before;
        let acquired_during_hold = acquired.load(Ordering::Relaxed);
        // Release before asserting, so a failure cannot leave the waiters
        // (and the scope joining them) blocked forever.
        // SAFETY: this thread acquired the lock above.
        unsafe { release_lock(slot.get()) };
        (used, acquired_during_hold)
    });

    assert_eq!(acquired_during_hold, 0, "the lock did not exclude");
    // Spinning waiters would use the whole hold time on every core (at least
    // 400 ms); sleeping ones use next to nothing.
    assert!(
        used < HOLD / 4,
        "{WAITERS} waiters used {used:?} of processor time during a {HOLD:?} hold: they spin"
    );
    assert_eq!(acquired.load(Ordering::Relaxed), WAITERS);
}
