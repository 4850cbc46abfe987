//! The user's setup: `static_arena!` plus `DLMalloc` as the global
//! allocator. Everything in this test binary, the test harness included,
//! allocates from a 1 MiB static arena.

use std::collections::BTreeMap;

use dlmalloc::DLMalloc;
use dlmalloc_platform_baremetal::arena_stats;

dlmalloc_platform_baremetal::static_arena!(1 << 20);

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

#[test]
fn collections_work_and_every_page_is_accounted_for() {
    let squares: Vec<u64> = (0..10_000).map(|i| i * i).collect();
    let names: BTreeMap<u32, String> = (0..500).map(|i| (i, format!("block {i}"))).collect();
    assert_eq!(squares[9_999], 99_980_001);
    assert_eq!(names[&499], "block 499");

    let stats = arena_stats();
    assert_eq!(stats.total_bytes, 1 << 20);
    assert_eq!(
        stats.total_bytes - stats.free_bytes,
        GLOBAL.stats().footprint
    );
    GLOBAL.heap_check().unwrap();
}

#[test]
fn requests_beyond_the_arena_fail_cleanly() {
    // A request larger than the arena fails instead of aborting. (The tests
    // share the arena with the harness, so none of them fills it.)
    let mut big: Vec<u8> = Vec::new();
    assert!(big.try_reserve_exact(2 << 20).is_err());
    // Growth by doubling to a quarter of the arena works (the last step
    // holds the old and the new buffer at once, and the smaller steps' freed
    // buffers stay in the heap).
    let mut grown: Vec<u8> = Vec::new();
    for i in 0..(256 << 10) {
        grown.push(i as u8);
    }
    assert!(grown.iter().enumerate().all(|(i, &b)| b == i as u8));
    drop(grown);
    GLOBAL.heap_check().unwrap();
}
