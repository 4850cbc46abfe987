//! The shared behaviour test `testing/platform-behaviour/alloc_free_realloc.rs` over the
//! wasm32 platform.

use dlmalloc_platform_wasm as _;

#[path = "../../testing/platform-behaviour/alloc_free_realloc.rs"]
mod alloc_free_realloc;
