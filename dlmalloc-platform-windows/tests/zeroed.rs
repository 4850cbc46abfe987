//! The shared behaviour test `testing/platform-behaviour/zeroed.rs` over the
//! Windows platform.

use dlmalloc_platform_windows as _;

#[path = "../../testing/platform-behaviour/zeroed.rs"]
mod zeroed;
