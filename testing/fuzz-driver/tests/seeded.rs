//! Runs the fuzz driver on every saved input in `regressions/` (each one a
//! crash the fuzzer once found) and on a few hundred seeded random inputs,
//! so every `cargo test` exercises the driver and its checks.

use std::sync::Mutex;

use dlmalloc_platform_std as _;

/// Runs change process-wide settings (thresholds, granularity, the global
/// footprint limit) and restore them at the end; the driver's checks assume
/// no other run changes them meanwhile, so the tests take turns.
static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// SplitMix64, so the seeded inputs are the same on every run.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn saved_regression_inputs_pass() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut state = 0x5EED_u64;
    let mut operations = 0;
    for round in 0..200 {
        let len = 64 + (next(&mut state) % 4096) as usize;
        let data: Vec<u8> = (0..len).map(|_| next(&mut state) as u8).collect();
        let outcome = dlmalloc_fuzz_driver::run(&data);
        assert!(outcome.operations > 0, "round {round} decoded nothing");
        operations += outcome.operations;
    }
    assert!(operations > 30_000, "only {operations} operations ran");
}
