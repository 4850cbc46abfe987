//! The lock hooks: an SRW lock in a pointer-sized slot excludes other
//! threads (a counter updated with plain reads and writes under it loses
//! no increment), and a waiter blocks until the holder releases it.

use core::ffi::c_void;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use dlmalloc_platform_windows::{acquire_lock, final_lock, init_lock, release_lock};

/// A lock slot and the counter it guards.
struct Guarded {
    slot: UnsafeCell<*mut c_void>,
    counter: UnsafeCell<u64>,
}

// SAFETY: the slot is only used through the lock hooks, and the counter
// only with the lock held.
unsafe impl Sync for Guarded {}

impl Guarded {
    /// The slot, as the hooks take it. (A method, so that closures capture
    /// the whole `Guarded`, which is `Sync`, not its cells.)
    fn slot(&self) -> *mut *mut c_void {
        self.slot.get()
    }

    fn counter(&self) -> *mut u64 {
        self.counter.get()
    }
}

#[test]
fn the_lock_excludes_and_blocks() {
    let guarded = Guarded {
        slot: UnsafeCell::new(core::ptr::null_mut()),
        counter: UnsafeCell::new(0),
    };
    // SAFETY: a valid, pointer-aligned slot nobody uses yet.
    unsafe { init_lock(guarded.slot()) };
    let threads = 8;
    let rounds = 20_000;
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..rounds {
                    // SAFETY: an initialised slot; the counter is touched
                    // only while holding the lock, which is released once.
                    unsafe {
                        acquire_lock(guarded.slot());
                        let value = guarded.counter().read_volatile();
                        guarded.counter().write_volatile(value + 1);
                        release_lock(guarded.slot());
                    }
                }
            });
        }
    });
    // SAFETY: all threads are done.
    assert_eq!(unsafe { *guarded.counter() }, threads * rounds);

    // A waiter blocks while the lock is held.
    let acquired = AtomicBool::new(false);
    // SAFETY: an initialised slot, acquired by this thread.
    unsafe { acquire_lock(guarded.slot()) };
    thread::scope(|scope| {
        scope.spawn(|| {
            // SAFETY: an initialised slot; released once below.
            unsafe { acquire_lock(guarded.slot()) };
            acquired.store(true, Ordering::SeqCst);
            // SAFETY: this thread holds the lock.
            unsafe { release_lock(guarded.slot()) };
        });
        thread::sleep(Duration::from_millis(200));
        assert!(
            !acquired.load(Ordering::SeqCst),
            "the waiter got a held lock"
        );
        // SAFETY: this thread holds the lock.
        unsafe { release_lock(guarded.slot()) };
    });
    assert!(acquired.load(Ordering::SeqCst));
    // SAFETY: unlocked and unused from now on.
    unsafe { final_lock(guarded.slot()) };
}
