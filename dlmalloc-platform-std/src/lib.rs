#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]

#[cfg(not(unix))]
compile_error!(
    "dlmalloc-platform-std supports Unix targets only; use dlmalloc-platform-baremetal or your own hooks elsewhere."
);

mod abort;
mod fork;
mod lock;
mod pages;

pub use abort::custom_abort;
pub use lock::{acquire_lock, final_lock, init_lock, release_lock};
#[cfg(target_os = "linux")]
pub use pages::custom_mremap;
pub use pages::{
    custom_mmap, custom_munmap, custom_page_size, map_count, mapped_bytes, remap_count, unmap_count,
};
