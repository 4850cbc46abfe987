//! The shared behaviour test `testing/platform-behaviour/alignment.rs` over the
//! wasm32 platform.

use dlmalloc_platform_wasm as _;

#[path = "../../testing/platform-behaviour/alignment.rs"]
mod alignment;
