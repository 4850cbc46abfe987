//! The main workspace's behaviour tests on Windows: dlmalloc-sys/tests and
//! dlmalloc/tests, unchanged, as this package's test targets (see
//! Cargo.toml). Their `use dlmalloc_platform_std as _;` links
//! dlmalloc-platform-windows, renamed as a dependency, and a child process
//! that aborts ends with exit code 3 there (`dlmalloc-test-support` knows).
//!
//! Run with `cargo test --target x86_64-pc-windows-gnu` from this folder
//! (the Wine runner comes from `dlmalloc-platform-windows/.cargo/config.toml`).
//!
//! Every test file of the two folders runs here except those below. Two
//! know about Windows: `misuse` ignores `free_of_a_stack_address_aborts`
//! there (it needs the stack above the heap), and `mspace_with_source`
//! counts no `custom_mremap` calls (the Windows platform has none). Tests
//! that depend on the allocation granularity read it from the heap rather
//! than assume Linux's 2 MiB (Windows has 64 KiB). The files left out:
//!
//! - `never_unmap`: it has tests only with the `never-unmap` feature.
//! - `stats_format` (dlmalloc): pure Rust, it links no platform on purpose
//!   (Miri runs it), and the MinGW linker, unlike Linux's, keeps the core's
//!   references to the hooks and fails on them.
//! - `layout`, `c_warnings`: they run the host's C compiler.
//! - `mremap_fallback`: Linux only (`mremap`).
//! - `mspace_fork`, `thread_cache_fork`: `fork`.
//! - `mspace_nightly_allocator`: nightly only (`allocator_api`).
