//! `dlmalloc_inspect_all` visits every chunk: each live block is a visited
//! in-use range `[start, start + used_bytes)` starting at the block, with
//! `used_bytes` covering its size, directly mapped blocks included; freed
//! blocks are not reported in use; ranges are well-formed and disjoint.
//! One test: the walk sees the whole global heap.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

use core::ffi::c_void;

use dlmalloc_sys::*;
use dlmalloc_test_support::{assert_heap_ok, fill};

const CAPACITY: usize = 8192;

/// What the handler saw. The handler runs with the heap lock held and must
/// not allocate (not even through the system allocator would be wise), so
/// it writes into this fixed-size record, which the test allocates before
/// the walk.
struct Visits {
    count: usize,
    ranges: [(usize, usize, usize); CAPACITY],
}

unsafe extern "C" fn record(start: *mut c_void, end: *mut c_void, used: usize, arg: *mut c_void) {
    // SAFETY: `arg` is the `Visits` that `walk` passes, alive and not
    // otherwise accessed during the walk.
    let visits = unsafe { &mut *arg.cast::<Visits>() };
    if visits.count < CAPACITY {
        visits.ranges[visits.count] = (start as usize, end as usize, used);
    }
    visits.count += 1;
}

/// Walks the heap and returns the visited (start, end, used) ranges, sorted.
fn walk() -> Vec<(usize, usize, usize)> {
    let mut visits = Box::new(Visits {
        count: 0,
        ranges: [(0, 0, 0); CAPACITY],
    });
    let arg: *mut Visits = &mut *visits;
    unsafe { dlmalloc_inspect_all(Some(record), arg.cast()) };
    assert!(
        visits.count <= CAPACITY,
        "{} chunks: raise CAPACITY",
        visits.count
    );
    let mut ranges = visits.ranges[..visits.count].to_vec();
    ranges.sort_unstable();
    for &(start, end, _) in &ranges {
        assert!(
            start < end,
            "visited an empty or inverted range {start:#x}..{end:#x}"
        );
    }
    for pair in ranges.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "visited ranges overlap: {pair:x?}");
    }
    ranges
}

/// The in-use range containing `p`, if any.
fn in_use_range(ranges: &[(usize, usize, usize)], p: usize) -> Option<(usize, usize, usize)> {
    ranges
        .iter()
        .copied()
        .find(|&(start, end, used)| used > 0 && start <= p && p < end)
}

#[test]
fn inspect_all_reports_live_and_free_chunks() {
    // Fixed threshold, so the 4 MiB blocks below are directly mapped: the
    // core maps a request past the threshold when no free chunk or top can
    // serve it, and this fresh heap's top is smaller than 4 MiB.
    assert_eq!(unsafe { dlmallopt(M_MMAP_THRESHOLD, 256 * 1024) }, 1);
    let mapped_before = unsafe { dlmallinfo() }.hblks;
    let sizes = [
        1usize,
        8,
        24,
        100,
        255,
        1000,
        4096,
        20_000,
        100_000,
        4 << 20,
        (6 << 20) + 3,
    ];
    let mut live: Vec<(*mut c_void, usize)> = Vec::new();
    let mut freed: Vec<*mut c_void> = Vec::new();
    for _round in 0..3 {
        for &size in &sizes {
            let p = unsafe { dlmalloc(size) };
            assert!(!p.is_null());
            unsafe { fill(p.cast(), 0, size.min(4096), size as u64) };
            live.push((p, size));
        }
        // A guard after each round, so the middle round's blocks, freed
        // below, stay free chunks of their own instead of merging into top.
        let guard = unsafe { dlmalloc(32) };
        assert!(!guard.is_null());
        live.push((guard, 32));
    }
    // Free the middle round (not its guard) once nothing else will be
    // allocated before the walk, so no later request reuses the space.
    let middle = sizes.len() + 1..2 * sizes.len() + 1;
    for (p, _) in live.drain(middle) {
        freed.push(p);
        unsafe { dlfree(p) };
    }
    assert_heap_ok("before the walk");
    assert_eq!(
        unsafe { dlmallinfo() }.hblks,
        mapped_before + 4,
        "test premise: the four live blocks of 4 MiB and more are directly mapped"
    );

    let ranges = walk();
    assert!(!ranges.is_empty(), "inspect_all visited nothing");
    assert!(
        ranges.iter().any(|r| r.2 == 0),
        "inspect_all reported no free chunk (not even top)"
    );
    for &(p, size) in &live {
        let Some((start, end, used)) = in_use_range(&ranges, p as usize) else {
            panic!("live {size}-byte block {p:?} is in no visited in-use range");
        };
        assert!(
            p as usize + size <= end,
            "{size}-byte block {p:?} runs past its range {start:#x}..{end:#x}"
        );
        assert!(used >= size, "{size}-byte block {p:?}: used_bytes {used}");
        assert_eq!(
            start, p as usize,
            "an in-use range starts at the block's usable bytes"
        );
        assert_eq!(
            end - start,
            used,
            "an in-use range is [start, start + used_bytes)"
        );
    }
    for &p in &freed {
        assert!(
            in_use_range(&ranges, p as usize).is_none(),
            "freed block {p:?} is reported in use: {:x?}",
            in_use_range(&ranges, p as usize)
        );
    }
    // Two live ones share no range: each in-use range holds one block.
    let mut owners: Vec<usize> = live
        .iter()
        .map(|&(p, _)| in_use_range(&ranges, p as usize).unwrap().0)
        .collect();
    owners.sort_unstable();
    owners.dedup();
    assert_eq!(
        owners.len(),
        live.len(),
        "two live blocks reported in one chunk"
    );

    // The mapped blocks' ranges go away when they are freed.
    let mapped: Vec<(*mut c_void, usize)> = live
        .iter()
        .copied()
        .filter(|&(_, size)| size >= 4 << 20)
        .collect();
    assert_eq!(mapped.len(), 4);
    live.retain(|&(_, size)| size < 4 << 20);
    for &(p, _) in &mapped {
        unsafe { dlfree(p) };
    }
    let ranges = walk();
    for &(p, _) in &mapped {
        assert!(
            ranges
                .iter()
                .all(|&(start, end, _)| !(start <= p as usize && (p as usize) < end)),
            "an unmapped block {p:?} is still visited"
        );
    }
    for &(p, size) in &live {
        assert!(
            in_use_range(&ranges, p as usize).is_some(),
            "live {size}-byte block {p:?} lost after freeing the mapped blocks"
        );
    }
    for (p, _) in live {
        unsafe { dlfree(p) };
    }
    let ranges = walk();
    assert!(
        ranges.iter().all(|r| r.2 == 0),
        "in-use chunks reported after freeing everything: {:x?}",
        ranges.iter().filter(|r| r.2 > 0).collect::<Vec<_>>()
    );
    assert_heap_ok("after the walks");
}
