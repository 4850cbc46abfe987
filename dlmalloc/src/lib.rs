#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]
#![cfg_attr(feature = "nightly", feature(allocator_api))]

mod allocator;
mod check;
mod global;
mod heap;
mod mspace;
mod mspace_alloc;
mod stats;
// The one place that decides whether there is a thread cache: without one,
// a module with the same interface that serves nothing stands in.
#[cfg(all(feature = "thread-cache", any(target_os = "linux", windows)))]
mod thread_cache;
#[cfg(not(all(feature = "thread-cache", any(target_os = "linux", windows))))]
#[path = "no_thread_cache.rs"]
mod thread_cache;

#[cfg(all(feature = "thread-cache", any(target_os = "linux", windows)))]
extern crate std;

pub use check::{HeapCheckError, Violation};
pub use global::DLMalloc;
pub use mspace::{CreateError, Growth, Locked, Locking, Mspace, Unlocked};
pub use mspace_alloc::MspaceAlloc;
pub use stats::Stats;

/// The raw C API of the core, re-exported from `dlmalloc-sys`.
///
/// The module keeps the name the `portable-dlmalloc` crate gave it, so code
/// such as `portable_dlmalloc::raw::dlmallopt(...)` compiles unchanged once
/// the dependency is renamed
/// (`portable-dlmalloc = { package = "dlmalloc-portable", ... }`).
///
/// Everything here is `unsafe` FFI; the [`DLMalloc`] methods cover the
/// common needs safely.
///
/// ```
/// use dlmalloc::raw;
/// use dlmalloc_platform_std as _;
///
/// // SAFETY: dlmallopt only changes a tuning parameter of the global heap.
/// let accepted = unsafe { raw::dlmallopt(raw::M_GRANULARITY, 1 << 20) };
/// assert_eq!(accepted, 1);
/// ```
pub mod raw {
    pub use dlmalloc_sys::*;
}
