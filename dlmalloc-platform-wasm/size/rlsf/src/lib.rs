//! The size-comparison program over rlsf (its README's wasm setup).
#![no_std]

#[global_allocator]
static A: rlsf::SmallGlobalTlsf = rlsf::SmallGlobalTlsf::new();

include!("../../common.rs");
