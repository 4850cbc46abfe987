//! A test platform for the dlmalloc core whose page hooks fail on demand.
//!
//! It defines every hook the core calls (`custom_mmap`, `custom_munmap`,
//! `custom_page_size`, the four lock hooks, `custom_abort`) over the real
//! `mmap(2)`/`munmap(2)`, and lets a test decide which calls fail:
//!
//! - [`fail_mmap_after`]`(n)`: `n` more maps go through, then every map
//!   fails (the system ran out of memory);
//! - [`fail_mmap_call`]`(i)`: only map number `i` from now fails;
//! - [`set_byte_budget`]`(bytes)`: maps that would bring the bytes mapped at
//!   once past `bytes` fail;
//! - [`mmap_fails_with_null`]: a failing map returns null instead of
//!   `(void*)-1`;
//! - [`fail_munmap`], [`fail_munmap_after`], [`fail_munmap_call`]: giving
//!   memory back fails, and the range stays mapped (the core must keep
//!   using it, `dl_hooks.h` says).
//!
//! The hooks also check the core's side of the contract: every range given
//! back must be whole pages that the core got from `custom_mmap` and still
//! holds. [`counters`] reports calls, failures, contract violations and the
//! bytes mapped now, which tests compare with the heaps' footprints.
//!
//! ```
//! use dlmalloc_fault_injection as faults;
//!
//! let _only_me = faults::exclusive();
//! let big = 64 << 20;
//! faults::fail_mmap_after(0);
//! // SAFETY: plain calls of the C API; the block is freed below.
//! unsafe {
//!     assert!(dlmalloc_sys::dlmalloc(big).is_null());
//!     faults::reset();
//!     let block = dlmalloc_sys::dlmalloc(big);
//!     assert!(!block.is_null());
//!     dlmalloc_sys::dlfree(block);
//! }
//! assert_eq!(faults::counters().contract_violations, 0);
//! ```
//!
//! This crate is the only platform in its test binaries: it does not depend
//! on dlmalloc-platform-std, and it does not declare
//! `links = "dlmalloc-platform"` because the workspace also holds that
//! crate (Cargo checks `links` across the whole workspace). The Rust test
//! harness runs on the system allocator, so the heaps see only the tests'
//! explicit calls.

mod abort;
mod faults;
mod lock;
mod pages;
mod ranges;

pub use abort::custom_abort;
pub use faults::{
    Counters, Exclusive, counters, exclusive, fail_mmap_after, fail_mmap_call, fail_munmap,
    fail_munmap_after, fail_munmap_call, is_mapped, is_unmapped, mmap_fails_with_null, reset,
    set_byte_budget, stop_failing_mmap,
};
pub use lock::{acquire_lock, final_lock, init_lock, release_lock};
pub use pages::{custom_mmap, custom_munmap, custom_page_size};
