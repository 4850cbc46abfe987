//! Real programs as allocator benchmarks: real crates doing real work, with
//! the allocator under test as the process's `#[global_allocator]`.
//!
//! The global allocator is fixed when a binary is linked, so there is one
//! binary per allocator (`src/bin/programs-*.rs`, each a few lines that
//! declare it and call [`child::main`]) and a driver, `bench-programs`
//! ([`driver::main`]), that runs every (program, thread count, allocator)
//! in a child process, round after round, and writes the report
//! ([`report`]). See bench/README.md, section "Real programs".
//!
//! Every program verifies its own result and returns a check value that
//! the driver requires to be the same for every allocator and thread
//! count, so an allocator that breaks a program cannot score.

pub mod child;
pub mod deflate;
pub mod driver;
pub mod json;
pub mod program;
pub mod report;
pub mod syntax;
