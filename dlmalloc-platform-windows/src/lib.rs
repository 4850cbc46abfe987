#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]

#[cfg(not(windows))]
compile_error!(
    "dlmalloc-platform-windows is the platform for Windows targets only \
     (x86_64-pc-windows-gnu, x86_64-pc-windows-msvc, ...); build with \
     `--target x86_64-pc-windows-gnu`, or use dlmalloc-platform-std (hosted \
     Unix), dlmalloc-platform-wasm or dlmalloc-platform-baremetal"
);

#[cfg(windows)]
mod abort;
#[cfg(windows)]
mod granularity;
#[cfg(windows)]
mod lock;
#[cfg(windows)]
mod pages;
#[cfg(windows)]
mod reservations;
#[cfg(windows)]
mod system;

#[cfg(windows)]
pub use abort::{ABORT_EXIT_CODE, custom_abort};
#[cfg(windows)]
pub use granularity::set_granularity_from_system;
#[cfg(windows)]
pub use lock::{acquire_lock, final_lock, init_lock, release_lock};
#[cfg(windows)]
pub use pages::{
    MemoryStats, custom_mmap, custom_munmap, map_count, mapped_bytes, memory_stats, release_all,
    unmap_count,
};
#[cfg(windows)]
pub use system::{allocation_granularity, custom_page_size, page_size};
