//! The fixed-heap fill: how much of a capped memory an allocator lets a
//! program use (the native harness's arena fill, on a wasm memory whose
//! maximum the driver sets). Blocks are allocated, and some freed, until
//! the first null; a trap instead of null is the allocator's failure, and
//! the driver reports it.

use crate::outcome::{self, TABLE_FULL};
use crate::rng::Rng;
use crate::table::{CAPACITY, Table};

unsafe extern "C" {
    /// The first byte after the module's static data and stack, placed by
    /// the linker. Only its address is used.
    static __heap_base: u8;
}

/// Where the heap starts: the memory below holds the static data (the
/// workloads' table included) and the stack, whatever the allocator.
#[unsafe(no_mangle)]
pub extern "C" fn heap_base() -> usize {
    // Only the address is taken, which needs no `unsafe`.
    core::ptr::addr_of!(__heap_base) as usize
}

/// Fills the heap with blocks of `lo..=hi` (>= 16) bytes until the first
/// null: each step allocates with probability 3/4, or frees a random live
/// block (the native arena fill, with its seed). Returns the most bytes
/// live at once (as asked, not as rounded); the blocks still live at the
/// end are verified and left in place.
#[unsafe(no_mangle)]
pub extern "C" fn fill(lo: usize, hi: usize) -> usize {
    let mut rng = Rng::new(0xa7e4a);
    let mut table = Table::take(CAPACITY);
    let (mut live, mut peak, mut allocated) = (0usize, 0usize, 0usize);
    let mut flags = 0;
    loop {
        if live == 0 || rng.chance(75) {
            if live == CAPACITY {
                flags = TABLE_FULL;
                break;
            }
            if !table.try_alloc(live, rng.size(lo, hi)) {
                break;
            }
            live += 1;
            allocated += 1;
            peak = peak.max(table.live_bytes);
        } else {
            let i = rng.below(live);
            table.free(i);
            live -= 1;
            if i != live {
                table.relocate(live, i);
            }
        }
    }
    table.check_and_leak();
    outcome::record(allocated, flags);
    peak
}
