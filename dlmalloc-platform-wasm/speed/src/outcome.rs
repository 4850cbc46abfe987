//! What the last workload call did, beside the checksum it returns: how
//! many steps it made and whether it stopped early. A wasm export returns
//! one value, so these wait in statics for the driver to ask.

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// The deadline stopped the workload before it made all its steps.
pub const CAPPED: u32 = 1;
/// Freeing the blocks at the end took past the grace time: the rest were
/// verified and leaked.
pub const LEAKED: u32 = 2;
/// The fill's table of live blocks ran full before the heap did.
pub const TABLE_FULL: u32 = 4;

static STEPS: AtomicU32 = AtomicU32::new(0);
static FLAGS: AtomicU32 = AtomicU32::new(0);

/// Records the outcome of the call now ending.
pub fn record(steps: usize, flags: u32) {
    STEPS.store(steps as u32, Relaxed);
    FLAGS.store(flags, Relaxed);
}

/// Steps the last call made (for a fill: blocks it allocated).
#[unsafe(no_mangle)]
pub extern "C" fn last_steps() -> u32 {
    STEPS.load(Relaxed)
}

/// The last call's [`CAPPED`], [`LEAKED`] and [`TABLE_FULL`] bits.
#[unsafe(no_mangle)]
pub extern "C" fn last_flags() -> u32 {
    FLAGS.load(Relaxed)
}
