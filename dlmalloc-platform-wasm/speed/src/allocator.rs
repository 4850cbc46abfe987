//! The allocator under test: the `#[global_allocator]` of the one Cargo
//! feature that is on, set up as in `../size` (each crate's README setup).

#[cfg(not(any(
    feature = "ours",
    feature = "dlmalloc-rs",
    feature = "talc",
    feature = "rlsf",
    feature = "lol_alloc"
)))]
compile_error!("turn on one allocator feature: ours, dlmalloc-rs, talc, rlsf or lol_alloc");

#[cfg(feature = "ours")]
extern crate dlmalloc_platform_wasm; // the page and lock hooks

/// This project's `DLMalloc` over dlmalloc-platform-wasm.
#[cfg(feature = "ours")]
#[global_allocator]
static A: dlmalloc::DLMalloc = dlmalloc::DLMalloc;

/// dlmalloc-rs, the allocator std uses on wasm.
#[cfg(feature = "dlmalloc-rs")]
#[global_allocator]
static A: dlmalloc_rs::GlobalDlmalloc = dlmalloc_rs::GlobalDlmalloc;

/// talc, set up as its README_WASM.md says.
#[cfg(feature = "talc")]
#[global_allocator]
static A: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// rlsf, set up as its README says for wasm.
#[cfg(feature = "rlsf")]
#[global_allocator]
static A: rlsf::SmallGlobalTlsf = rlsf::SmallGlobalTlsf::new();

/// lol_alloc's general-purpose (free-list) allocator.
// SAFETY: wasm32-unknown-unknown without atomics has one thread.
#[cfg(feature = "lol_alloc")]
#[global_allocator]
static A: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
