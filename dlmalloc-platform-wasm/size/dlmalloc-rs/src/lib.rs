//! The size-comparison program over dlmalloc-rs.
#![no_std]

#[global_allocator]
static A: dlmalloc_rs::GlobalDlmalloc = dlmalloc_rs::GlobalDlmalloc;

include!("../../common.rs");
