//! The size-comparison program over this project's `DLMalloc`.
#![no_std]

extern crate dlmalloc_platform_wasm; // the page and lock hooks

#[global_allocator]
static A: dlmalloc::DLMalloc = dlmalloc::DLMalloc;

include!("../../common.rs");
