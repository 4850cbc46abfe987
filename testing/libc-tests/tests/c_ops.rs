//! The C-API fuzz program (`src/ops.rs`) on seeded random inputs, so every
//! `cargo test` runs it, as the fuzz target does for as long as it is given.

use dlmalloc_test_support::Rng;

#[test]
fn seeded_c_programs() {
    for seed in 0..24 {
        let mut rng = Rng::new(seed);
        let bytes = rng.bytes(4096);
        dlmalloc_libc_tests::ops::run(&bytes);
    }
}
