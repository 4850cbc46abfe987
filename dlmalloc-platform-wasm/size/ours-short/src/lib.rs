//! The size-comparison program over this project's `DLMalloc`, with the
//! core's short messages (`short-messages`): the checks stay, one text per
//! kind of error replaces one per check.
#![no_std]

extern crate dlmalloc_platform_wasm; // the page and lock hooks

#[global_allocator]
static A: dlmalloc::DLMalloc = dlmalloc::DLMalloc;

include!("../../common.rs");
