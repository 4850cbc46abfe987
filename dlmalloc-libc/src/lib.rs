#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]

// The hosted platform's hooks (pages, locks, fork safety, abort) must be
// linked in: nothing here names them.
#[cfg(feature = "hosted")]
use dlmalloc_platform_std as _;

mod aligned;
mod basic;
mod errno;
#[cfg(all(feature = "hosted", target_env = "gnu"))]
mod glibc;

pub use aligned::{aligned_alloc, memalign, posix_memalign, pvalloc, valloc};
pub use basic::{calloc, free, malloc, malloc_usable_size, realloc, reallocarray};
#[cfg(all(feature = "hosted", target_env = "gnu"))]
pub use glibc::{Mallinfo, Mallinfo2, mallinfo, mallinfo2, malloc_stats, malloc_trim, mallopt};
