//! The `critical-section` lock kind: every lock is a critical section.
//!
//! `acquire_lock` stores the `RestoreState` that `critical_section::acquire`
//! returns in the core's slot, and `release_lock` hands it back. Critical
//! sections nest (the inner one's state says "already inside", so releasing
//! it changes nothing), and the core releases nested locks in reverse order,
//! so interrupts come back on exactly when the outermost lock is released.

use core::cell::RefCell;
use core::ffi::c_void;
use core::mem::{align_of, size_of};

use critical_section::RestoreState;

// The restore state must fit the core's pointer-sized slot. It does with
// every `restore-state-*` feature except `restore-state-u64` on a 32-bit
// target.
const _: () = assert!(
    size_of::<RestoreState>() <= size_of::<*mut c_void>()
        && align_of::<RestoreState>() <= align_of::<*mut c_void>(),
    "critical_section::RestoreState does not fit in a pointer-sized lock slot"
);

/// Enters a critical section and saves its restore state in the slot.
///
/// # Safety
///
/// As for `acquire_lock`.
pub(super) unsafe fn acquire(lock: *mut *mut c_void) {
    // SAFETY: the matching `release` below ends this critical section, and
    // the core releases nested locks in reverse order.
    let restore = unsafe { critical_section::acquire() };
    // SAFETY: the slot is valid, and large and aligned enough for a
    // RestoreState (checked at compile time); inside the critical section no
    // one else touches it.
    unsafe { lock.cast::<RestoreState>().write(restore) };
}

/// Leaves the critical section entered by the matching `acquire`.
///
/// # Safety
///
/// As for `release_lock`.
pub(super) unsafe fn release(lock: *mut *mut c_void) {
    // SAFETY: the caller holds the lock, so the slot holds the RestoreState
    // written by `acquire`.
    let restore = unsafe { lock.cast::<RestoreState>().read() };
    // SAFETY: this is the state of the innermost critical section still
    // open, released in reverse order of acquiring.
    unsafe { critical_section::release(restore) };
}

/// The page allocator's lock: a value reachable only inside a critical
/// section.
pub(crate) struct Mutex<T>(critical_section::Mutex<RefCell<T>>);

impl<T> Mutex<T> {
    /// A new mutex.
    pub(crate) const fn new(value: T) -> Self {
        Mutex(critical_section::Mutex::new(RefCell::new(value)))
    }

    /// Runs `f` on the value inside a critical section.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        critical_section::with(|cs| f(&mut self.0.borrow_ref_mut(cs)))
    }
}
