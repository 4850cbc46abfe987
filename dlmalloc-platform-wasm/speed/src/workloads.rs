//! The timed workloads, exported to the driver: the native harness's
//! `pairs` and `churn` (bench/harness/src/workloads.rs) with the same
//! parameters, seeds and verification. Each returns a hash of the blocks
//! it checked and records its step count in [`crate::outcome`]; the driver
//! divides its time by that count.

use alloc::alloc::{alloc, dealloc};
use core::alloc::Layout;

use crate::clock::Deadline;
use crate::outcome::{self, CAPPED, LEAKED};
use crate::rng::Rng;
use crate::stamp;
use crate::table::{ALIGN, Table, fold, mix};

/// How often (in steps) a loop looks at the clock.
const CLOCK_EVERY: usize = 1024;

/// How long past its deadline a churn may spend freeing its blocks (ms).
const DRAIN_GRACE_MS: f64 = 1000.0;

/// Allocates one block of `size` (>= 16) bytes and frees it at once,
/// `steps` times or until `budget_ms` has passed.
#[unsafe(no_mangle)]
pub extern "C" fn pairs(size: usize, steps: usize, budget_ms: f64) -> u32 {
    let deadline = Deadline::after(budget_ms);
    let layout = Layout::from_size_align(size, ALIGN).unwrap();
    let mut sum = 0u64;
    for i in 0..steps {
        if i % CLOCK_EVERY == 0 && i > 0 && deadline.passed() {
            outcome::record(i, CAPPED);
            return fold(sum);
        }
        // SAFETY: non-zero size.
        let ptr = unsafe { alloc(layout) };
        stamp::check_fresh(ptr, layout, "pairs");
        let tag = stamp::tag(i as u64 + 1);
        // SAFETY: a fresh block of `size` >= 16 bytes.
        unsafe {
            stamp::write(ptr, size, tag);
            stamp::check(ptr, size, tag, "pairs");
            dealloc(ptr, layout);
        }
        sum = mix(sum, tag ^ (size as u64) << 40);
    }
    outcome::record(steps, 0);
    fold(sum)
}

/// A table of `live` blocks of `lo..=hi` bytes; each step frees a random
/// slot and fills it with a new block. Counts as the native `churn`: the
/// table's fill and its freeing at the end are inside the time.
#[unsafe(no_mangle)]
pub extern "C" fn churn(lo: usize, hi: usize, live: usize, steps: usize, budget_ms: f64) -> u32 {
    run_churn(lo, hi, live, false, steps, budget_ms)
}

/// As [`churn`], but half of the steps resize the slot's block with
/// `realloc` instead.
#[unsafe(no_mangle)]
pub extern "C" fn realloc_churn(
    lo: usize,
    hi: usize,
    live: usize,
    steps: usize,
    budget_ms: f64,
) -> u32 {
    run_churn(lo, hi, live, true, steps, budget_ms)
}

fn run_churn(
    lo: usize,
    hi: usize,
    live: usize,
    realloc: bool,
    steps: usize,
    budget_ms: f64,
) -> u32 {
    let deadline = Deadline::after(budget_ms);
    // The native seed, so both see the same requests.
    let mut rng = Rng::new(0x5eed ^ (lo as u64) << 32 ^ hi as u64 ^ (live as u64) << 16);
    let mut table = Table::take(live);
    for i in 0..live {
        table.alloc(i, rng.size(lo, hi));
    }
    let mut done = steps;
    for step in 0..steps {
        if step % CLOCK_EVERY == 0 && step > 0 && deadline.passed() {
            done = step;
            break;
        }
        let i = rng.below(live);
        let size = rng.size(lo, hi);
        if realloc && rng.chance(50) {
            table.realloc(i, size);
        } else {
            table.free(i);
            table.alloc(i, size);
        }
    }
    let freed = table.clear_until(deadline.later(DRAIN_GRACE_MS));
    let capped = if done < steps { CAPPED } else { 0 };
    outcome::record(done, capped | if freed { 0 } else { LEAKED });
    table.checksum()
}
