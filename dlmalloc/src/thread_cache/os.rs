//! Everything the thread cache asks of the operating system, one
//! implementation per system, so the rest of the cache has no `cfg`:
//!
//! - [`random_word`]: the secret that masks cached links;
//! - [`cpu_count`]: how many arenas to make;
//! - [`reserve`], [`commit`], [`decommit`]: the arenas' address space, whose
//!   pages are made usable when an arena's heap maps them and given back
//!   (reading as zeros once committed again) when it unmaps them;
//! - [`register_barrier`], [`barrier_on_all_threads`]: a full memory barrier
//!   on every running thread of the process (the registry's flush protocol);
//! - [`at_fork`]: handlers around `fork`, where the system has one.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(super) use linux::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(super) use windows::*;
