#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]

mod abort;
mod arena;
mod lock;
mod page_allocator;
mod pages;

pub use abort::custom_abort;
pub use arena::{ArenaBuffer, StaticArena};
pub use lock::{acquire_lock, final_lock, init_lock, release_lock};
pub use page_allocator::{ArenaStats, FreeError, MAX_REGIONS, PageAllocator};
pub use pages::{add_region, arena_stats, custom_mmap, custom_munmap, custom_page_size};

/// The page size of this platform, in bytes: the unit of the page allocator,
/// the alignment of the static arena, and what `custom_page_size` returns.
pub const PAGE_SIZE: usize = 4096;
