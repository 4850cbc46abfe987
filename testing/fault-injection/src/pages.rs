//! The page hooks over the real `mmap(2)`/`munmap(2)`, with the faults of
//! [`faults`](crate::faults) applied, and the state they share with it.
//!
//! All page state (the fault plans, the byte budget, the counters and the
//! table of mapped ranges) sits behind one spin lock, because the core
//! calls these hooks concurrently: each heap has its own lock, and
//! `create_mspace`/`destroy_mspace` call them under none. The lock is
//! innermost: nothing holding it calls into the allocator.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::faults::{Counters, Plan};
use crate::lock::{spin_acquire, spin_release};
use crate::ranges::Ranges;

/// What `custom_mmap` returns on failure: `(void*)-1`.
const MMAP_FAILED: *mut c_void = usize::MAX as *mut c_void;

/// Everything the page hooks and the control functions share.
pub(crate) struct PageState {
    /// Which coming `custom_mmap` calls fail.
    pub(crate) mmap_plan: Plan,
    /// Which coming `custom_munmap` calls fail.
    pub(crate) munmap_plan: Plan,
    /// Most bytes mapped at once; `usize::MAX` for no budget.
    pub(crate) budget: usize,
    /// What a failing `custom_mmap` returns: null instead of `(void*)-1`.
    pub(crate) fail_with_null: bool,
    /// What the hooks have seen so far.
    pub(crate) counters: Counters,
    /// What is mapped now.
    pub(crate) ranges: Ranges,
}

/// [`PageState`] behind a spin lock.
struct Shared {
    lock: AtomicUsize,
    state: UnsafeCell<PageState>,
}

// SAFETY: `state` is only reached through `with_state`, which holds `lock`
// for the whole access, so one thread at a time touches it.
unsafe impl Sync for Shared {}

static SHARED: Shared = Shared {
    lock: AtomicUsize::new(0),
    state: UnsafeCell::new(PageState {
        mmap_plan: Plan::Off,
        munmap_plan: Plan::Off,
        budget: usize::MAX,
        fail_with_null: false,
        counters: Counters::ZERO,
        ranges: Ranges::new(),
    }),
};

/// Runs `f` on the page state with its lock held. `f` must not call into
/// the allocator or back into `with_state`.
pub(crate) fn with_state<R>(f: impl FnOnce(&mut PageState) -> R) -> R {
    spin_acquire(&SHARED.lock);
    // SAFETY: the lock is held, so this is the only reference to the state
    // until it is released below.
    let result = f(unsafe { &mut *SHARED.state.get() });
    spin_release(&SHARED.lock);
    result
}

/// The system page size, read once from `sysconf(_SC_PAGESIZE)`.
#[unsafe(no_mangle)]
pub extern "C" fn custom_page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = usize::try_from(page).unwrap_or(4096);
    PAGE.store(page, Ordering::Relaxed);
    page
}

/// Writes a contract violation to standard error without allocating.
fn report_violation(what: &str) {
    let prefix = b"dlmalloc-fault-injection: contract violation: ";
    for part in [prefix.as_slice(), what.as_bytes(), b"\n"] {
        // SAFETY: the pointer and length describe a live byte slice.
        unsafe { libc::write(libc::STDERR_FILENO, part.as_ptr().cast(), part.len()) };
    }
}

/// Ends the process when the range table overflows: the platform could no
/// longer check the contract. Never happens at the tests' sizes.
fn table_full() -> ! {
    report_violation("more mapped ranges than the table holds");
    std::process::abort()
}

/// Returns `len` fresh, page-aligned, zeroed, read/write bytes from
/// `mmap(2)`, or `(void*)-1` (null after
/// [`mmap_fails_with_null`](crate::mmap_fails_with_null)) when the fault
/// plan or the byte budget says this call fails (or the system refuses).
///
/// # Safety
///
/// Always safe to call; `unsafe` only because the core's prototype is an
/// unchecked C declaration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_mmap(len: usize) -> *mut c_void {
    let page = custom_page_size();
    with_state(|s| {
        let failed = if s.fail_with_null {
            ptr::null_mut()
        } else {
            MMAP_FAILED
        };
        s.counters.mmap_calls += 1;
        if len == 0 || len % page != 0 {
            s.counters.contract_violations += 1;
            report_violation("custom_mmap length is not a positive multiple of the page size");
            return failed;
        }
        if s.mmap_plan.next_call_fails() {
            s.counters.mmap_failures += 1;
            return failed;
        }
        if s.counters.mapped_bytes.saturating_add(len) > s.budget {
            s.counters.mmap_failures += 1;
            s.counters.budget_refusals += 1;
            return failed;
        }
        // SAFETY: an anonymous private mapping at an address the kernel
        // picks touches no existing memory.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            s.counters.mmap_failures += 1;
            return failed;
        }
        let start = base as usize;
        if s.ranges.overlaps(start, start + len) {
            s.counters.contract_violations += 1;
            report_violation("mmap returned memory the table still lists as mapped");
        }
        if s.ranges.insert(start, start + len).is_err() {
            table_full();
        }
        s.counters.mapped_bytes += len;
        s.counters.peak_mapped_bytes = s.counters.peak_mapped_bytes.max(s.counters.mapped_bytes);
        base
    })
}

/// Gives `[p, p + len)` back with `munmap(2)` and returns 0, or returns -1
/// and leaves the range mapped when the fault plan says this call fails.
/// A range that is not page aligned or not wholly mapped is a contract
/// violation: it is counted, reported on standard error, and refused
/// (-1) without touching any memory.
///
/// # Safety
///
/// Always safe to call with any arguments: the range is checked against
/// what this platform mapped before anything is unmapped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_munmap(p: *mut c_void, len: usize) -> i32 {
    let page = custom_page_size();
    let start = p as usize;
    with_state(|s| {
        s.counters.munmap_calls += 1;
        let well_formed = len != 0 && len % page == 0 && start % page == 0;
        if !well_formed || start.checked_add(len).is_none() {
            s.counters.contract_violations += 1;
            report_violation("custom_munmap range is not whole pages");
            return -1;
        }
        if !s.ranges.covers(start, start + len) {
            s.counters.contract_violations += 1;
            report_violation("custom_munmap range was not mapped by custom_mmap");
            return -1;
        }
        if s.munmap_plan.next_call_fails() {
            s.counters.munmap_failures += 1;
            return -1;
        }
        // SAFETY: the range is whole pages this platform mapped and still
        // holds (checked above); the core gives it up with this call.
        if unsafe { libc::munmap(p, len) } != 0 {
            s.counters.munmap_failures += 1;
            return -1;
        }
        if s.ranges.remove(start, start + len).is_err() {
            table_full();
        }
        s.counters.mapped_bytes -= len;
        0
    })
}
