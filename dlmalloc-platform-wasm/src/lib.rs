#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]

#[cfg(not(target_arch = "wasm32"))]
compile_error!(
    "dlmalloc-platform-wasm is the platform for wasm32 targets only \
     (wasm32-unknown-unknown, wasm32-wasip1); build with `--target wasm32-...`, \
     or use dlmalloc-platform-std (hosted Unix) or dlmalloc-platform-baremetal"
);

#[cfg(target_arch = "wasm32")]
mod abort;
// Only with atomics: without, the core never calls the lock hooks.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
mod lock;
#[cfg(target_arch = "wasm32")]
mod pages;

#[cfg(target_arch = "wasm32")]
pub use abort::custom_abort;
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub use lock::{acquire_lock, final_lock, init_lock, release_lock};
#[cfg(target_arch = "wasm32")]
pub use pages::{MemoryStats, custom_mmap, custom_munmap, custom_page_size, memory_stats};

/// The page size this platform reports to the core, in bytes: 4096.
///
/// Every length the core asks [`custom_mmap`] for is a multiple of it, and
/// every mapping starts at a multiple of it. It is smaller than the wasm
/// page ([`WASM_PAGE_SIZE`]) on purpose: see the README's "Page size".
pub const PAGE_SIZE: usize = 4096;

/// The unit of `memory.grow`: 64 KiB.
pub const WASM_PAGE_SIZE: usize = 65536;
