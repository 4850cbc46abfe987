//! Frees one block twice, on purpose: the core detects it and calls
//! `custom_abort`, which on wasm32-wasip1 writes `dlmalloc: ...` to stderr
//! and traps. `scripts/wasm.sh` runs it and expects exactly that: a failed
//! exit and the message.

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;
use dlmalloc_platform_wasm as _;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

fn main() {
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: non-zero size.
    let ptr = unsafe { GLOBAL.alloc(layout) };
    assert!(!ptr.is_null());
    // SAFETY: a live block of this layout.
    unsafe { GLOBAL.dealloc(ptr, layout) };
    eprintln!("freeing the block a second time");
    // SAFETY: not met, on purpose: `ptr` was freed above. Nothing has
    // reused the chunk, so the core's always-on check finds it not in use
    // and stops the module before anything is corrupted.
    unsafe { GLOBAL.dealloc(ptr, layout) };
    eprintln!("the double free was not detected");
}
