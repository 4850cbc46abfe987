//! The native benchmark's pair, churn and realloc-churn workloads
//! (bench/harness) and a fixed-heap fill, as a wasm32-unknown-unknown
//! cdylib that Node drives (`../bench.mjs`). The allocator under test is the
//! `#[global_allocator]` chosen by a Cargo feature (`allocator.rs`); every
//! workload asks it through `alloc::alloc`, so the code around it is the
//! same for every allocator.
//!
//! The random sizes and block stamps are the native harness's own files
//! (`rng.rs`, `stamp.rs`, compiled here as they are), so the wasm modules
//! see exactly the requests the native benchmark makes and verify their
//! blocks the same way. A failed check panics, and a panic traps.
//!
//! Exports: [`workloads::pairs`], [`workloads::churn`],
//! [`workloads::realloc_churn`], [`fill::fill`], with [`outcome`]'s
//! `last_steps` and `last_flags` for what the last call did, and
//! [`fill::heap_base`].
#![no_std]

extern crate alloc;

mod allocator;
mod clock;
pub mod fill;
pub mod outcome;
#[path = "../../../bench/harness/src/rng.rs"]
mod rng;
#[path = "../../../bench/harness/src/stamp.rs"]
mod stamp;
mod table;
pub mod workloads;

/// A failed check (or an allocation failure where none is expected) traps:
/// the driver reports the trap with the allocator and workload it ran.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
