//! What the thread-cache test files share: block patterns and a view of
//! the arenas' reservation (how much of it is reserved and committed).
//!
//! Run with `cargo test --target x86_64-pc-windows-gnu` from this folder
//! (the Wine runner comes from `dlmalloc-platform-windows/.cargo/config.toml`).

#![cfg(windows)]

use windows_sys::Win32::System::Memory::MEM_COMMIT;

// The platform tests' shared helpers: the address-space query and the
// block pattern live there once.
#[path = "../../common/mod.rs"]
mod common;
pub use common::{pattern, query};

/// Address space per arena on 64-bit targets (`REGION` in
/// dlmalloc/src/thread_cache/arenas.rs).
pub const ARENA_REGION: usize = 256 << 20;

/// Arenas at least (four per core, at least four).
pub const MIN_ARENAS: usize = 4;

/// A block of `len` bytes stamped with `seed`'s pattern.
pub fn patterned(seed: usize, len: usize) -> Box<[u8]> {
    (0..len).map(|i| pattern(seed, i)).collect()
}

/// Panics unless `block` still holds `seed`'s pattern.
#[track_caller]
pub fn assert_pattern(block: &[u8], seed: usize) {
    if let Some(at) = (0..block.len()).find(|&i| block[i] != pattern(seed, i)) {
        panic!(
            "block {seed} of {} bytes was overwritten at byte {at}",
            block.len()
        );
    }
}

/// One `VirtualAlloc` reservation, as the system describes it now.
#[derive(Clone, Copy, Debug)]
pub struct Reservation {
    /// Its first address.
    pub base: usize,
    /// Its length.
    pub reserved: usize,
    /// Bytes of it that are committed.
    pub committed: usize,
}

/// The reservation that holds `address`, walked region by region.
pub fn reservation_of(address: usize) -> Reservation {
    let base = query(address).AllocationBase as usize;
    let (mut reserved, mut committed, mut at) = (0, 0, base);
    loop {
        let info = query(at);
        if info.AllocationBase as usize != base {
            break;
        }
        reserved += info.RegionSize;
        if info.State == MEM_COMMIT {
            committed += info.RegionSize;
        }
        at += info.RegionSize;
    }
    Reservation {
        base,
        reserved,
        committed,
    }
}
