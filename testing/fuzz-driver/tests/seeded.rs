//! Runs the fuzz driver on every saved input in `regressions/` (each one a
//! crash the fuzzer once found) and on a few hundred seeded random inputs,
//! so every `cargo test` exercises the driver and its checks.

use dlmalloc_platform_std as _;
use dlmalloc_test_support::{Rng, serial};

#[test]
fn saved_regression_inputs_pass() {
    // Runs change process-wide settings (thresholds, granularity, the
    // global footprint limit) and restore them at the end; the driver's
    // checks assume no other run changes them meanwhile, so the tests take
    // turns.
    let _turn = serial();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/regressions");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("regressions/ exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            let data = std::fs::read(&path).unwrap();
            let outcome = dlmalloc_fuzz_driver::run(&data);
            println!("{}: {outcome:?}", path.display());
            count += 1;
        }
    }
    println!("{count} regression inputs");
}

#[test]
fn seeded_random_inputs_pass() {
    let _turn = serial();
    let mut rng = Rng::new(0x5EED);
    let mut operations = 0;
    for round in 0..200 {
        let len = 64 + (rng.next_u64() % 4096) as usize;
        let data = rng.bytes(len);
        let outcome = dlmalloc_fuzz_driver::run(&data);
        assert!(outcome.operations > 0, "round {round} decoded nothing");
        operations += outcome.operations;
    }
    assert!(operations > 30_000, "only {operations} operations ran");
}
