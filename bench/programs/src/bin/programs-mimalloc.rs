//! The real programs with `mimalloc::MiMalloc` as the global allocator.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    bench_programs::child::main();
}
