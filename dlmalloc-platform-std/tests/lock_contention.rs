//! The lock excludes: eight threads increment one plain (non-atomic) counter
//! under `acquire_lock`/`release_lock` on one slot, and no increment is lost.

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::ptr;
use std::thread;

use dlmalloc_platform_std::{acquire_lock, final_lock, init_lock, release_lock};

const THREADS: usize = 8;
const INCREMENTS: usize = 100_000;

/// A lock slot and the data it guards, as the C core lays them out.
struct Guarded {
    slot: UnsafeCell<*mut c_void>,
    count: UnsafeCell<usize>,
}

// SAFETY: `count` is only touched with the lock in `slot` held, and `slot`
// is only touched through the lock hooks, which access it atomically.
unsafe impl Sync for Guarded {}

impl Guarded {
    fn slot(&self) -> *mut *mut c_void {
        self.slot.get()
    }

    fn count(&self) -> *mut usize {
        self.count.get()
    }
}

#[test]
fn no_increment_is_lost_under_contention() {
    let guarded = Guarded {
        slot: UnsafeCell::new(ptr::null_mut()),
        count: UnsafeCell::new(0),
    };
    // SAFETY: the slot is valid, pointer aligned and not yet shared.
    unsafe { init_lock(guarded.slot()) };

    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..INCREMENTS {
                    // SAFETY: the slot was initialised above and outlives the
                    // scope; this thread releases only what it acquired.
                    unsafe { acquire_lock(guarded.slot()) };
                    // A read, a pause and a write: without mutual exclusion
                    // other threads would overwrite each other's updates.
                    // SAFETY: the lock is held, so no other thread accesses
                    // the counter.
                    unsafe {
                        let seen = ptr::read_volatile(guarded.count());
                        std::hint::spin_loop();
                        ptr::write_volatile(guarded.count(), seen + 1);
                    }
                    // SAFETY: this thread holds the lock.
                    unsafe { release_lock(guarded.slot()) };
                }
            });
        }
    });

    // SAFETY: every thread has finished; nothing else accesses the counter.
    assert_eq!(unsafe { *guarded.count() }, THREADS * INCREMENTS);
    // SAFETY: every thread has finished; the lock is free and unused.
    unsafe { final_lock(guarded.slot()) };
    // Released, and with no waiter left behind: the slot is back to 0.
    // SAFETY: no thread uses the slot any more.
    assert!(unsafe { *guarded.slot() }.is_null());
}
