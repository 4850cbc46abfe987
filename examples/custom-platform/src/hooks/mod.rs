//! The platform hooks the dlmalloc core calls, one file per concern.
//!
//! Together these files are everything a port must provide:
//!
//! - [`pages`]: `custom_mmap`, `custom_munmap` and the optional
//!   `custom_page_size`, serving pages from a fixed pool, with a usage log.
//! - [`lock`]: `init_lock`, `final_lock`, `acquire_lock`, `release_lock`, a
//!   spin lock in the core's pointer-sized slot, with counters.
//! - [`abort`]: `custom_abort`, which reports and stops without allocating.
//!
//! Each hook is a `#[unsafe(no_mangle)] pub extern "C" fn` with the exact
//! name and signature the core declares in `dl_hooks.h`. Two rules hold for
//! all of them, because any hook may run while the core holds a heap lock:
//! a hook never allocates through this allocator (no `Vec`, `Box`,
//! `String`, `format!`, no `println!` that might grow a buffer), and a hook
//! never calls back into the allocator (`dlmalloc`, `GLOBAL.stats()`, ...).

pub mod abort;
pub mod lock;
pub mod pages;
