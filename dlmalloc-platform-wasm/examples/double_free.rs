//! Frees one block twice, on purpose
//! (`testing/platform-behaviour/double_free.rs`): the core detects it and
//! calls `custom_abort`, which on wasm32-wasip1 writes `dlmalloc: ...` to
//! stderr and traps. `scripts/wasm.sh` runs it and expects exactly that: a
//! failed exit and the message.

use dlmalloc_platform_wasm as _;

#[path = "../../testing/platform-behaviour/double_free.rs"]
mod double_free;

fn main() {
    double_free::double_free();
}
