//! The control API: which page-hook calls fail, the byte budget, the
//! counters, and a guard that gives one test the platform to itself.
//!
//! Faults stay armed until changed or [`reset`]; [`exclusive`] resets them
//! when it is taken and when it is dropped, so a failing test leaves no
//! faults behind for the next one.

use std::sync::{Mutex, MutexGuard};

use crate::pages::with_state;

/// Which coming calls of one hook fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Every call goes to the system.
    Off,
    /// This many more calls go to the system, then every call fails.
    FailAfter(u64),
    /// The call with this index (0 = the next) fails; the others do not.
    FailCall(u64),
}

impl Plan {
    /// Consumes one call of the plan; returns whether that call fails.
    pub(crate) fn next_call_fails(&mut self) -> bool {
        match self {
            Plan::Off => false,
            Plan::FailAfter(0) => true,
            Plan::FailAfter(n) | Plan::FailCall(n) if *n > 0 => {
                *n -= 1;
                false
            }
            Plan::FailCall(_) => {
                *self = Plan::Off;
                true
            }
            Plan::FailAfter(_) => unreachable!("FailAfter(0) is matched above"),
        }
    }
}

/// What the page hooks have seen since the process started. Failures count
/// injected ones and the system's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Calls to `custom_mmap`.
    pub mmap_calls: u64,
    /// Of those, the calls that returned failure.
    pub mmap_failures: u64,
    /// Of the failures, the ones the byte budget caused.
    pub budget_refusals: u64,
    /// Calls to `custom_munmap`.
    pub munmap_calls: u64,
    /// Of those, the calls that returned -1 (contract violations excluded).
    pub munmap_failures: u64,
    /// Hook calls that broke the contract in `dl_hooks.h` (a length that is
    /// not whole pages, giving back memory that is not mapped). Must stay 0.
    pub contract_violations: u64,
    /// Bytes mapped through `custom_mmap` and not given back.
    pub mapped_bytes: usize,
    /// The largest `mapped_bytes` ever reached.
    pub peak_mapped_bytes: usize,
}

impl Counters {
    pub(crate) const ZERO: Counters = Counters {
        mmap_calls: 0,
        mmap_failures: 0,
        budget_refusals: 0,
        munmap_calls: 0,
        munmap_failures: 0,
        contract_violations: 0,
        mapped_bytes: 0,
        peak_mapped_bytes: 0,
    };
}

/// A snapshot of the counters.
pub fn counters() -> Counters {
    with_state(|s| s.counters)
}

/// Lets the next `calls` calls of `custom_mmap` through, then fails every
/// later one until changed. `fail_mmap_after(0)`: the system is out of
/// memory from now on.
pub fn fail_mmap_after(calls: u64) {
    with_state(|s| s.mmap_plan = Plan::FailAfter(calls));
}

/// Fails only the `custom_mmap` call with index `index` counted from now
/// (0 = the next call); the calls before and after it go through.
pub fn fail_mmap_call(index: u64) {
    with_state(|s| s.mmap_plan = Plan::FailCall(index));
}

/// Lets every `custom_mmap` call through again (the byte budget stays).
pub fn stop_failing_mmap() {
    with_state(|s| s.mmap_plan = Plan::Off);
}

/// Fails every `custom_mmap` call that would bring the bytes mapped at once
/// above `bytes`. `usize::MAX` removes the budget.
pub fn set_byte_budget(bytes: usize) {
    with_state(|s| s.budget = bytes);
}

/// Makes a failing `custom_mmap` return null (`true`) instead of the
/// documented `(void*)-1` (`false`, the default): `portable-dlmalloc`
/// platforms written against other conventions return null, and the core
/// takes both as failure.
pub fn mmap_fails_with_null(null: bool) {
    with_state(|s| s.fail_with_null = null);
}

/// Makes every `custom_munmap` call fail (`true`) or go through (`false`).
pub fn fail_munmap(fail: bool) {
    with_state(|s| s.munmap_plan = if fail { Plan::FailAfter(0) } else { Plan::Off });
}

/// Lets the next `calls` calls of `custom_munmap` through, then fails every
/// later one until changed.
pub fn fail_munmap_after(calls: u64) {
    with_state(|s| s.munmap_plan = Plan::FailAfter(calls));
}

/// Fails only the `custom_munmap` call with index `index` counted from now.
pub fn fail_munmap_call(index: u64) {
    with_state(|s| s.munmap_plan = Plan::FailCall(index));
}

/// Turns every fault off, removes the byte budget, and makes failures
/// `(void*)-1` again; the counters stay.
pub fn reset() {
    with_state(|s| {
        s.fail_with_null = false;
        s.mmap_plan = Plan::Off;
        s.munmap_plan = Plan::Off;
        s.budget = usize::MAX;
    });
}

/// True when every byte of `[addr, addr + len)` is mapped through this
/// platform and not given back.
pub fn is_mapped(addr: usize, len: usize) -> bool {
    with_state(|s| s.ranges.covers(addr, addr + len))
}

/// True when no byte of `[addr, addr + len)` is mapped through this
/// platform any more.
pub fn is_unmapped(addr: usize, len: usize) -> bool {
    with_state(|s| !s.ranges.overlaps(addr, addr + len))
}

/// Serialises the users of the platform and of the global heap in one
/// process. Faults are reset when the guard is taken and when it drops.
pub struct Exclusive {
    _serial: MutexGuard<'static, ()>,
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        reset();
    }
}

static SERIAL: Mutex<()> = Mutex::new(());

/// Waits until no other holder of the guard runs, resets every fault, and
/// returns the guard. Tests of one binary run in parallel threads and share
/// the global heap and these faults: each test holds this guard for its
/// whole body. A test that panicked poisons nothing: the guard is recovered.
pub fn exclusive() -> Exclusive {
    let serial = SERIAL.lock().unwrap_or_else(|poison| poison.into_inner());
    reset();
    Exclusive { _serial: serial }
}

#[cfg(test)]
mod tests {
    use super::Plan;

    fn run(mut plan: Plan, calls: usize) -> Vec<bool> {
        (0..calls).map(|_| plan.next_call_fails()).collect()
    }

    #[test]
    fn plans_fail_the_chosen_calls() {
        assert_eq!(run(Plan::Off, 3), [false, false, false]);
        assert_eq!(run(Plan::FailAfter(0), 3), [true, true, true]);
        assert_eq!(run(Plan::FailAfter(2), 4), [false, false, true, true]);
        assert_eq!(run(Plan::FailCall(0), 3), [true, false, false]);
        assert_eq!(run(Plan::FailCall(2), 4), [false, false, true, false]);
    }
}
