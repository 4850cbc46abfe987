//! The wasm demo: a program on `DLMalloc` over this platform, run under
//! Node's WASI. It builds a word count in a `BTreeMap`, then prints what the
//! heap says about itself (statistics, the heap check) and how much of the
//! module's linear memory the platform handed out.
//!
//! ```text
//! cd dlmalloc-platform-wasm
//! cargo run --release --target wasm32-wasip1 --example demo
//! ```
//! (`bash scripts/wasm.sh` installs clang, lld and the target first.)

use std::collections::BTreeMap;

use dlmalloc::DLMalloc;
use dlmalloc_platform_wasm::memory_stats;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

fn main() {
    let text = "the heap keeps what it takes and reuses it the heap never shrinks ".repeat(2000);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_string()).or_default() += 1;
    }
    println!(
        "{} distinct words; \"heap\" {} times",
        counts.len(),
        counts["heap"]
    );

    let stats = GLOBAL.stats();
    println!(
        "heap: {} bytes in use, {} free, footprint {} (peak {})",
        stats.in_use_bytes, stats.free_bytes, stats.footprint, stats.max_footprint
    );
    match GLOBAL.heap_check() {
        Ok(()) => println!("heap check: clean"),
        Err(error) => println!("heap check: {error}"),
    }
    let memory = memory_stats();
    println!(
        "linear memory: {} bytes; the platform handed out {} from address {:#x}",
        memory.memory_size, memory.handed_out, memory.heap_start
    );
}
