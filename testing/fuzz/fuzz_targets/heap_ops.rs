//! Fuzz target: the bytes are a program of allocator operations on the
//! global heap and three mspaces, checked against a model by the driver
//! (see testing/fuzz-driver/src/lib.rs).
#![no_main]

use dlmalloc_platform_std as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dlmalloc_fuzz_driver::run(data);
});
