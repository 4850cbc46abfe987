//! Frees one block twice, on purpose: the core's always-on check must find
//! the chunk not in use and call the platform's abort hook
//! (`custom_abort`) before anything is corrupted. Two lines on stderr
//! frame the second free: the first says it is coming, the second appears
//! only if the core let it through.
//!
//! Shared by the platforms that cannot run the main workspace's tests
//! (wasm32, Windows): each includes this file from a program of its own
//! that links its hooks and then checks how its abort hook ended that
//! program (wasm32: `examples/double_free.rs`, which `scripts/wasm.sh`
//! runs; Windows: the child process of `tests/double_free.rs`).

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// Frees one block twice; returns only if the core did not stop it.
pub fn double_free() {
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: non-zero size.
    let ptr = unsafe { GLOBAL.alloc(layout) };
    assert!(!ptr.is_null());
    // SAFETY: a live block of this layout.
    unsafe { GLOBAL.dealloc(ptr, layout) };
    eprintln!("freeing the block a second time");
    // SAFETY: not met, on purpose: `ptr` was freed above. Nothing has
    // reused the chunk, so the core's always-on check finds it not in use
    // and calls custom_abort before anything is corrupted.
    unsafe { GLOBAL.dealloc(ptr, layout) };
    eprintln!("the double free was not detected");
}
