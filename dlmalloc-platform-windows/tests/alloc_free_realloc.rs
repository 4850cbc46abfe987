//! The shared behaviour test `testing/platform-behaviour/alloc_free_realloc.rs` over the
//! Windows platform.

use dlmalloc_platform_windows as _;

#[path = "../../testing/platform-behaviour/alloc_free_realloc.rs"]
mod alloc_free_realloc;
