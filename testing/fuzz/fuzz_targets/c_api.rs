//! Fuzz target: the bytes are a program of C allocation calls (malloc,
//! calloc, realloc, reallocarray, free on this or another thread, the
//! aligned allocations, malloc_usable_size, malloc_trim, mallinfo2) through
//! `dlmalloc-libc`, checked as it runs (see testing/libc-tests/src/ops.rs).
//! Linking the crate makes it this process's malloc, so the fuzzer's own
//! allocations share the heap too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dlmalloc_libc_tests::ops::run(data);
});
