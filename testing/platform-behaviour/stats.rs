//! What every platform checks about `DLMalloc::stats()` while blocks are
//! live: in-use bytes grow by the blocks' sizes plus at most a few words
//! of overhead each, and the footprint by at least their sizes.
//!
//! Shared by the platforms that cannot run the main workspace's tests
//! (wasm32, Windows): each includes this file as a module of its
//! `tests/stats.rs`, which declares the global `DLMalloc` as `GLOBAL` and
//! checks around these blocks what only its platform does with memory
//! (commits and releases it on Windows, never gives it back on wasm32).

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::Stats;

use super::GLOBAL;

/// The blocks' size and alignment.
const LAYOUT: Layout = match Layout::from_size_align(1000, 8) {
    Ok(layout) => layout,
    Err(_) => panic!("a valid layout"),
};

/// Live blocks of 1000 bytes of the global heap, with the statistics from
/// before and after their allocation.
pub struct LiveBlocks {
    /// The statistics before the blocks were allocated.
    pub before: Stats,
    /// The statistics with the blocks live.
    pub during: Stats,
    blocks: Vec<*mut u8>,
}

impl LiveBlocks {
    /// Allocates `count` blocks and checks the growth: in-use bytes by at
    /// least `count * 1000` and at most `count * 1024 + slack` (the chunk
    /// headers, the Vec that holds the pointers, and whatever the platform
    /// adds), the footprint by at least `count * 1000`.
    pub fn allocate(count: usize, slack: usize) -> LiveBlocks {
        let before = GLOBAL.stats();
        let blocks: Vec<*mut u8> = (0..count)
            // SAFETY: non-zero size.
            .map(|_| unsafe { GLOBAL.alloc(LAYOUT) })
            .collect();
        assert!(blocks.iter().all(|ptr| !ptr.is_null()));
        let during = GLOBAL.stats();
        let grew = during.in_use_bytes - before.in_use_bytes;
        assert!(grew >= count * 1000, "{grew}");
        assert!(grew <= count * 1024 + slack, "{grew}");
        assert!(during.footprint >= before.footprint + count * 1000);
        LiveBlocks {
            before,
            during,
            blocks,
        }
    }

    /// Frees the blocks.
    pub fn free(self) {
        for ptr in self.blocks {
            // SAFETY: live blocks of this layout, freed once.
            unsafe { GLOBAL.dealloc(ptr, LAYOUT) };
        }
    }
}
