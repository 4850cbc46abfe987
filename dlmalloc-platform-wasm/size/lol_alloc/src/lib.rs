//! The size-comparison program over lol_alloc's general-purpose allocator.
#![no_std]

use lol_alloc::{AssumeSingleThreaded, FreeListAllocator};

// SAFETY: wasm32-unknown-unknown without atomics has one thread.
#[global_allocator]
static A: AssumeSingleThreaded<FreeListAllocator> =
    unsafe { AssumeSingleThreaded::new(FreeListAllocator::new()) };

include!("../../common.rs");
