//! C test programs for `dlmalloc-libc` (see `c/`). Each `c_*` function runs
//! one case through C's allocation functions and returns 0 when every
//! check passed, or the source line of the first check that failed.
//! `tests/c_api.rs` calls them.

use core::ffi::c_int;

// The C code's malloc & co.: linking the crate puts them in the binary.
use dlmalloc_libc as _;

unsafe extern "C" {
    /// malloc/free over sizes 0 to 1 MiB with patterns; `malloc(0)` distinct.
    pub fn c_malloc_free() -> c_int;
    /// calloc zeroes reused memory; an overflowing product fails with ENOMEM.
    pub fn c_calloc() -> c_int;
    /// realloc keeps contents while growing and shrinking; null and 0 cases;
    /// a failed realloc leaves the block as it was.
    pub fn c_realloc() -> c_int;
    /// reallocarray, overflow included.
    pub fn c_reallocarray() -> c_int;
    /// posix_memalign, aligned_alloc, memalign, valloc, pvalloc: alignment
    /// honoured, bad alignments refused with EINVAL.
    pub fn c_aligned() -> c_int;
    /// malloc_usable_size: at least the request, and all of it writable.
    pub fn c_usable_size() -> c_int;
    /// Memory the C library allocates for itself (strdup, open_memstream)
    /// comes from this heap and is freed into it.
    pub fn c_libc_internal() -> c_int;
    /// glibc's extras: mallopt, malloc_trim, mallinfo2.
    pub fn c_glibc_extras() -> c_int;
    /// Threads made by pthread_create allocate, free each other's blocks
    /// and free in pthread key destructors.
    pub fn c_threads() -> c_int;
    /// Frees `block` twice (the misuse test's child).
    pub fn c_double_free();
    /// Frees a pointer into the middle of a block (the misuse test's child).
    pub fn c_free_interior();
    /// malloc(n) with n bytes.
    pub fn c_malloc(bytes: usize) -> *mut u8;
    /// free(block).
    pub fn c_free(block: *mut u8);
}

pub mod ops;
