//! The real programs with glibc's malloc (`std::alloc::System`) as the
//! global allocator.

#[global_allocator]
static GLOBAL: std::alloc::System = std::alloc::System;

fn main() {
    bench_programs::child::main();
}
