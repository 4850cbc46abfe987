//! The size-comparison program over talc (its README_WASM.md setup).
#![no_std]

#[global_allocator]
static A: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

include!("../../common.rs");
