//! Statistics, trimming and the footprint limit of the global heap, driven
//! through direct `DLMalloc` calls (it is not the global allocator here, so
//! only these tests touch the heap).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::MutexGuard;

use dlmalloc::{DLMalloc, raw};
use dlmalloc_platform_std as _;

/// The tests compare statistics and change heap-wide settings, so they run
/// one at a time.
fn serial() -> MutexGuard<'static, ()> {
    let guard = dlmalloc_test_support::serial();
    // Make sure the heap is initialised before anything is measured.
    let layout = Layout::from_size_align(16, 16).unwrap();
    // SAFETY: non-zero size; freed right away with the same layout.
    unsafe {
        let block = DLMalloc.alloc(layout);
        assert!(!block.is_null());
        DLMalloc.dealloc(block, layout);
    }
    guard
}

const MIB: usize = 1 << 20;

#[test]
fn display_reads_like_the_classic_report() {
    let _guard = serial();
    let stats = DLMalloc.stats();
    let text = stats.to_string();
    println!("{text}");
    for line in [
        format!("max system bytes = {:>10}", stats.max_footprint),
        format!("system bytes     = {:>10}", stats.footprint),
        format!("in use bytes     = {:>10}", stats.in_use_bytes),
        format!("free bytes       = {:>10}", stats.free_bytes),
        format!("free chunks      = {:>10}", stats.free_chunks),
        format!("mmapped chunks   = {:>10}", stats.mmapped_chunks),
        format!("mmapped bytes    = {:>10}", stats.mmapped_bytes),
        format!("footprint limit  = {:>10}", "none"),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(stats.footprint > 0);
    assert!(stats.max_footprint >= stats.footprint);
    assert_eq!(stats.in_use_bytes + stats.free_bytes, stats.footprint);
}

#[test]
fn in_use_follows_a_one_mib_block() {
    let _guard = serial();
    let before = DLMalloc.stats();

    let layout = Layout::from_size_align(MIB, 16).unwrap();
    // SAFETY: non-zero size.
    let block = unsafe { DLMalloc.alloc(layout) };
    assert!(!block.is_null());
    let during = DLMalloc.stats();
    assert!(
        during.in_use_bytes >= before.in_use_bytes + MIB,
        "in use did not grow by 1 MiB:\nbefore:\n{before}\nduring:\n{during}"
    );

    // SAFETY: allocated above with this layout.
    unsafe { DLMalloc.dealloc(block, layout) };
    let after = DLMalloc.stats();
    assert_eq!(
        after.in_use_bytes, before.in_use_bytes,
        "in use did not return after the free:\nbefore:\n{before}\nafter:\n{after}"
    );
    DLMalloc.heap_check().unwrap();
}

#[test]
fn trim_releases_freed_blocks() {
    let _guard = serial();
    // No automatic trimming, so what is released is released by `trim`.
    // SAFETY: only changes a tuning parameter.
    assert_eq!(unsafe { raw::dlmallopt(raw::M_TRIM_THRESHOLD, -1) }, 1);

    let layout = Layout::from_size_align(64 << 10, 16).unwrap();
    let blocks: Vec<*mut u8> = (0..320)
        .map(|i| {
            // SAFETY: non-zero size.
            let block = unsafe { DLMalloc.alloc(layout) };
            assert!(!block.is_null());
            // SAFETY: a live block of 64 KiB.
            unsafe { block.write_bytes(i as u8, layout.size()) };
            block
        })
        .collect();
    let peak = DLMalloc.stats();
    assert!(peak.in_use_bytes >= 20 * MIB);

    for block in blocks {
        // SAFETY: each block was allocated above with `layout`, freed once.
        unsafe { DLMalloc.dealloc(block, layout) };
    }
    let freed = DLMalloc.stats();
    let released = DLMalloc.trim(0);
    let trimmed = DLMalloc.stats();
    assert!(
        trimmed.footprint + 18 * MIB <= peak.footprint,
        "20 MiB freed but not given back:\npeak:\n{peak}\nfreed:\n{freed}\ntrimmed:\n{trimmed}"
    );
    assert_eq!(released, trimmed.footprint < freed.footprint);
    assert!(trimmed.top_bytes <= freed.top_bytes);
    DLMalloc.heap_check().unwrap();
}

#[test]
fn footprint_limit_is_never_exceeded() {
    let _guard = serial();
    assert_eq!(DLMalloc.footprint_limit(), None);

    let wanted = DLMalloc.stats().footprint + 4 * MIB;
    let limit = DLMalloc
        .set_footprint_limit(Some(wanted))
        .expect("a limit is in force");
    assert!(
        limit >= wanted && limit - wanted < 64 << 10,
        "limit {limit} for {wanted}"
    );
    assert_eq!(DLMalloc.footprint_limit(), Some(limit));
    assert_eq!(DLMalloc.stats().footprint_limit, Some(limit));

    let small = Layout::from_size_align(64 << 10, 16).unwrap();
    let mut blocks = Vec::new();
    let mut refused = false;
    for _ in 0..10_000 {
        // SAFETY: non-zero size.
        let block = unsafe { DLMalloc.alloc(small) };
        let footprint = DLMalloc.stats().footprint;
        assert!(
            footprint <= limit,
            "footprint {footprint} over the limit {limit}"
        );
        if block.is_null() {
            refused = true;
            break;
        }
        blocks.push(block);
    }
    assert!(refused, "the limit never refused an allocation");
    assert!(
        blocks.len() * small.size() >= MIB,
        "only {} blocks fit",
        blocks.len()
    );

    let large = Layout::from_size_align(8 * MIB, 16).unwrap();
    // SAFETY: non-zero size.
    assert!(unsafe { DLMalloc.alloc(large) }.is_null());
    assert!(DLMalloc.stats().footprint <= limit);

    for block in blocks {
        // SAFETY: allocated above with `small`, freed once.
        unsafe { DLMalloc.dealloc(block, small) };
    }
    assert_eq!(DLMalloc.set_footprint_limit(None), None);
    assert_eq!(DLMalloc.footprint_limit(), None);

    // SAFETY: non-zero size.
    let block = unsafe { DLMalloc.alloc(large) };
    assert!(
        !block.is_null(),
        "the limit is still in force after removing it"
    );
    // SAFETY: allocated above with `large`.
    unsafe { DLMalloc.dealloc(block, large) };
    DLMalloc.heap_check().unwrap();
}
