//! The shared behaviour test `testing/platform-behaviour/zeroed.rs` over the
//! wasm32 platform.

use dlmalloc_platform_wasm as _;

#[path = "../../testing/platform-behaviour/zeroed.rs"]
mod zeroed;
