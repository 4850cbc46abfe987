//! The shared behaviour test `testing/platform-behaviour/alignment.rs` over the
//! Windows platform.

use dlmalloc_platform_windows as _;

#[path = "../../testing/platform-behaviour/alignment.rs"]
mod alignment;
