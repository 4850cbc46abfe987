//! The main workspace's behaviour tests on Windows: dlmalloc-sys/tests and
//! dlmalloc/tests, unchanged, as this package's test targets (see
//! Cargo.toml). Their `use dlmalloc_platform_std as _;` links
//! dlmalloc-platform-windows, renamed as a dependency, and a child process
//! that aborts ends with exit code 3 there (`dlmalloc-test-support` knows).
//!
//! Run with `cargo test --target x86_64-pc-windows-gnu` from this folder
//! (the Wine runner comes from `dlmalloc-platform-windows/.cargo/config.toml`).
//!
//! Every test file of the two folders runs here (in `misuse`,
//! `free_of_a_stack_address_aborts` is ignored on Windows: it needs the
//! stack above the heap) except these:
//!
//! - `arenas` (dlmalloc): it failed once in three runs under Wine. It
//!   compares the process's bytes in use with the level before right after
//!   its threads ended, probably before Wine had ended one of them and so
//!   given its cache back. `tests/thread-cache` covers frees across threads
//!   and exits with checks that wait for them.
//! - `never_unmap`: it has tests only with the `never-unmap` feature.
//! - `mspace_with_source`: it counts `custom_mremap` calls
//!   (`remap_count`), which Windows has none of; and
//!   `freeing_shrinking_and_trimming_give_pages_back` expects a 1900 KiB
//!   block to fit in a new mspace's first segment, which holds with the
//!   core's default 2 MiB granularity (Linux) but not with the 64 KiB
//!   allocation granularity the Windows platform sets (the block gets a
//!   second mapping).
//! - `bulk_malloc`: `an_mspace_at_its_limit_hands_out_fewer` expects a new
//!   mspace, limited to its own footprint, to hold at least one 64 KiB
//!   block: the same granularity assumption (the footprint is 64 KiB on
//!   Windows, and no 64 KiB block fits in it).
//! - `stats_format` (dlmalloc): pure Rust, it links no platform on purpose
//!   (Miri runs it), and the MinGW linker, unlike Linux's, keeps the core's
//!   references to the hooks and fails on them.
//! - `layout`, `c_warnings`: they run the host's C compiler.
//! - `mremap_fallback`: Linux only (`mremap`).
//! - `mspace_fork`, `thread_cache_fork`: `fork`.
//! - `mspace_nightly_allocator`: nightly only (`allocator_api`).
