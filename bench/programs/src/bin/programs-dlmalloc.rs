//! The real programs with this project's `DLMalloc` as the global
//! allocator (hosted platform `dlmalloc-platform-std`).

use dlmalloc_platform_std as _;

#[global_allocator]
static GLOBAL: dlmalloc::DLMalloc = dlmalloc::DLMalloc;

fn main() {
    bench_programs::child::main();
}
