//! What the allocator's tests share, written once:
//!
//! - [`Rng`]: a seeded generator (SplitMix64), the same sequence on every
//!   run;
//! - [`pattern`]: blocks stamped with a pattern derived from a seed and
//!   checked later, in full or sampled for large blocks;
//! - [`Heap`]: the global heap (`dl*`) or one mspace (`mspace_*`) behind one
//!   set of methods, so a scenario runs on both;
//! - heap checks ([`Heap::assert_ok`], [`assert_heap_ok`],
//!   [`assert_mspace_ok`]) that run the core's checker and panic with its
//!   report;
//! - [`run_child`], [`child_entry`] and [`assert_aborted_with`]: a test case
//!   re-run in a child process that must abort with a given message (die
//!   by `SIGABRT` on Unix, end with exit code 3 on Windows);
//! - [`serial`]: one lock per test binary, for tests that read process-wide
//!   figures.
//!
//! Nothing here allocates through the dl heaps by itself, and nothing names
//! a platform: the test binary links one (`dlmalloc-platform-std`,
//! `dlmalloc-platform-baremetal`, `dlmalloc-platform-windows` or a test
//! platform), so this crate serves every workspace. It builds for Unix and
//! for Windows; only the child process differs between them.

mod check;
mod child;
mod heap;
pub mod pattern;
mod rng;

use std::sync::{Mutex, MutexGuard};

pub use check::{assert_heap_ok, assert_mspace_ok, heap_violations, mspace_violations};
#[cfg(unix)]
pub use child::SIGABRT;
pub use child::{
    CHILD_DEADLINE, UNDETECTED, assert_aborted, assert_aborted_with, child_entry, run_child,
};
pub use heap::Heap;
pub use pattern::{all_zero, assert_pattern, fill, first_mismatch};
pub use rng::Rng;

static SERIAL: Mutex<()> = Mutex::new(());

/// Serialises the tests of one binary that read process-wide figures (exact
/// statistics of the global heap, the platform's mapping counters,
/// thresholds a test changes) or arrange neighbouring chunks: the harness
/// runs tests in parallel on the one global heap. A failed test poisons
/// nothing: the guard is recovered.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
