//! The mspace API on one heap at a time: create_mspace for several
//! capacities, locked and not; malloc, free, calloc, realloc,
//! realloc_in_place, memalign and usable_size; independent_calloc,
//! independent_comalloc and bulk_free; trim; mallinfo; the footprint limit;
//! mspace_track_large_chunks; mspace_inspect_all; and requests that must
//! fail cleanly. Every step ends with mspace_check.
//!
//! All tests hold the per-binary lock: one changes the process-wide trim
//! threshold, and several compare the platform's mapped-bytes counter.

// Every unsafe block below is a call into the raw C API with handles and
// pointers this test got from the same API (or null); a SAFETY line on each
// would repeat that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;
use dlmalloc_platform_std::{map_count, mapped_bytes};

mod common;

use core::ffi::{c_int, c_void};
use core::ptr::null_mut;

use common::{page_size, round_up};
use dlmalloc_sys::*;
use dlmalloc_test_support::{Heap, Rng, all_zero, assert_mspace_ok, assert_pattern, fill, serial};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// The capacities the brief names: 0 (one granularity), tiny, medium, large.
const CAPACITIES: [usize; 4] = [0, 1, 100 * KIB, 16 * MIB];

/// One heap configuration of the per-heap tests.
#[derive(Clone, Copy, Debug)]
struct Config {
    capacity: usize,
    locked: c_int,
}

/// Every capacity, alternately unlocked and locked, plus the other lock
/// setting for capacity 0 (the brief's `create_mspace(0, 0/1)`).
fn configs() -> Vec<Config> {
    let mut all: Vec<Config> = CAPACITIES
        .iter()
        .enumerate()
        .map(|(i, &capacity)| Config {
            capacity,
            locked: (i % 2) as c_int,
        })
        .collect();
    all.push(Config {
        capacity: 0,
        locked: 1,
    });
    all
}

/// Creates a heap for each configuration, runs `body` on it, checks it and
/// destroys it; the mapped-bytes counter must come back to where it was.
fn on_each_heap(mut body: impl FnMut(Mspace, &str)) {
    for config in configs() {
        let name = format!("{config:?}");
        let before = mapped_bytes();
        let msp = unsafe { create_mspace(config.capacity, config.locked) };
        assert!(!msp.is_null(), "{name}: create_mspace returned null");
        body(msp, &name);
        unsafe { assert_mspace_ok(msp, &format!("{name}: at the end")) };
        let footprint = unsafe { mspace_footprint(msp) };
        let released = unsafe { destroy_mspace(msp) };
        assert_eq!(
            released, footprint,
            "{name}: destroy_mspace released {released} bytes, footprint was {footprint}"
        );
        assert_eq!(
            mapped_bytes(),
            before,
            "{name}: mapped bytes after destroy_mspace"
        );
    }
}

/// A new block: not null, aligned for any type, `size` usable bytes. Fills
/// it with the pattern for `seed`.
#[track_caller]
fn accept(p: *mut c_void, size: usize, seed: u64, what: &str) -> *mut c_void {
    assert!(!p.is_null(), "{what}: returned null");
    assert_eq!(p as usize % MALLOC_ALIGNMENT, 0, "{what}: misaligned {p:?}");
    let usable = unsafe { mspace_usable_size(p) };
    assert!(usable >= size, "{what}: usable size {usable} < {size}");
    unsafe { fill(p.cast(), 0, size, seed) };
    p
}

/// The heap's mallinfo, after asserting the relations between its fields.
#[track_caller]
fn consistent_mallinfo(msp: Mspace, what: &str) -> MallInfo {
    // SAFETY: the tests pass live mspaces that only they use.
    let mi = unsafe { Heap::mspace(msp) }.assert_mallinfo_exact(what);
    assert!(
        mi.hblkhd >= mi.hblks * page_size(),
        "{what}: fewer than one page per mapped chunk ({mi:?})"
    );
    mi
}

/// Checks the heap and its mallinfo.
#[track_caller]
fn step_ok(msp: Mspace, what: &str) {
    unsafe { assert_mspace_ok(msp, what) };
    consistent_mallinfo(msp, what);
}

/// The in-use blocks `mspace_inspect_all` reports, as (start, used) pairs.
fn in_use_blocks(msp: Mspace) -> Vec<(usize, usize)> {
    unsafe { Heap::mspace(msp) }
        .ranges()
        .into_iter()
        .filter(|&(_, _, used)| used > 0)
        .map(|(start, _, used)| (start, used))
        .collect()
}

/// The core's granularity: the footprint of a heap created with capacity 0.
fn granularity() -> usize {
    let msp = unsafe { create_mspace(0, 0) };
    assert!(!msp.is_null());
    let footprint = unsafe { mspace_footprint(msp) };
    unsafe { destroy_mspace(msp) };
    assert!(footprint.is_power_of_two() && footprint >= page_size());
    footprint
}

/// Restores the process-wide trim threshold when dropped (also on panic).
struct TrimThreshold;

impl TrimThreshold {
    fn set(value: c_int) -> Self {
        assert_eq!(unsafe { mspace_mallopt(M_TRIM_THRESHOLD, value) }, 1);
        TrimThreshold
    }
}

impl Drop for TrimThreshold {
    fn drop(&mut self) {
        // The core's default (DL_DEFAULT_TRIM_THRESHOLD).
        unsafe { mspace_mallopt(M_TRIM_THRESHOLD, 2 << 20) };
    }
}

#[test]
fn create_mspace_provides_its_capacity() {
    let _serial = serial();
    let page = page_size();
    for capacity in CAPACITIES {
        for locked in [0, 1] {
            let name = format!("create_mspace({capacity}, {locked})");
            let before = mapped_bytes();
            let msp = unsafe { create_mspace(capacity, locked) };
            assert!(!msp.is_null(), "{name} returned null");
            let footprint = unsafe { mspace_footprint(msp) };
            assert!(
                footprint >= capacity.max(1),
                "{name}: footprint {footprint}"
            );
            assert_eq!(footprint % page, 0, "{name}: footprint {footprint}");
            assert_eq!(
                mapped_bytes() - before,
                footprint,
                "{name}: mapped bytes differ from the footprint"
            );
            assert_eq!(unsafe { mspace_max_footprint(msp) }, footprint, "{name}");
            assert_eq!(unsafe { mspace_footprint_limit(msp) }, usize::MAX, "{name}");
            let mi = consistent_mallinfo(msp, &name);
            assert_eq!(mi.hblks, 0, "{name}: {mi:?}");
            assert!(
                mi.uordblks < page,
                "{name}: a fresh heap uses {} bytes",
                mi.uordblks
            );
            unsafe { assert_mspace_ok(msp, &name) };

            // Nine tenths of the capacity in 1 KiB blocks fit without the
            // heap asking the system for more.
            let count = capacity / 10 * 9 / KIB;
            let blocks: Vec<*mut c_void> = (0..count)
                .map(|i| {
                    let p = unsafe { mspace_malloc(msp, KIB) };
                    accept(p, KIB, i as u64, &name)
                })
                .collect();
            assert_eq!(
                unsafe { mspace_footprint(msp) },
                footprint,
                "{name}: {count} KiB made the heap grow"
            );
            step_ok(msp, &format!("{name}: filled"));
            for (i, &p) in blocks.iter().enumerate() {
                unsafe { assert_pattern(p.cast(), 0, KIB, i as u64, &name) };
                unsafe { mspace_free(msp, p) };
            }
            step_ok(msp, &format!("{name}: emptied"));
            let last = unsafe { mspace_footprint(msp) };
            assert_eq!(unsafe { destroy_mspace(msp) }, last, "{name}");
            assert_eq!(mapped_bytes(), before, "{name}: after destroy_mspace");
        }
    }
}

#[test]
fn malloc_free_and_usable_size() {
    let _serial = serial();
    const SIZES: [usize; 12] = [
        0,
        1,
        8,
        24,
        100,
        255,
        256,
        1000,
        4096,
        70 * KIB,
        300 * KIB,
        2 * MIB,
    ];
    on_each_heap(|msp, name| {
        assert_eq!(unsafe { mspace_usable_size(null_mut()) }, 0);
        let mut blocks = Vec::new();
        for (i, &size) in SIZES.iter().enumerate() {
            let what = format!("{name}: mspace_malloc({size})");
            let p = accept(unsafe { mspace_malloc(msp, size) }, size, i as u64, &what);
            blocks.push((p, size, i as u64));
            step_ok(msp, &what);
        }
        let mut ranges: Vec<(usize, usize)> = blocks
            .iter()
            .map(|&(p, _, _)| (p as usize, p as usize + unsafe { mspace_usable_size(p) }))
            .collect();
        ranges.sort_unstable();
        for pair in ranges.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "{name}: blocks overlap: {pair:x?}");
        }
        // Free in an order that is neither allocation order nor its reverse.
        let mut rng = Rng::new(0xF4EE);
        while !blocks.is_empty() {
            let (p, size, seed) = blocks.swap_remove(rng.below(blocks.len()));
            unsafe { assert_pattern(p.cast(), 0, size, seed, name) };
            unsafe { mspace_free(msp, p) };
            step_ok(msp, &format!("{name}: after freeing the {size}-byte block"));
        }
        unsafe { mspace_free(msp, null_mut()) };
        assert!(in_use_blocks(msp).is_empty(), "{name}: blocks left in use");
    });
}

#[test]
fn calloc_returns_zeroed_memory() {
    let _serial = serial();
    const CASES: [(usize, usize); 7] = [
        (1, 1),
        (10, 10),
        (100, 33),
        (7, 4096),
        (1000, 300),
        (3, MIB),
        (0, 5),
    ];
    on_each_heap(|msp, name| {
        // Dirty memory first, so that zeroes are the core's doing.
        let dirty: Vec<*mut c_void> = [64 * KIB, 512 * KIB, 4 * MIB, 100, 5000]
            .iter()
            .map(|&size| {
                let p = unsafe { mspace_malloc(msp, size) };
                assert!(!p.is_null());
                unsafe { p.cast::<u8>().write_bytes(0xA5, size) };
                p
            })
            .collect();
        for p in dirty {
            unsafe { mspace_free(msp, p) };
        }
        let mut blocks = Vec::new();
        for (count, elem) in CASES.into_iter().chain([(5, 0)]) {
            let what = format!("{name}: mspace_calloc({count}, {elem})");
            let p = unsafe { mspace_calloc(msp, count, elem) };
            assert!(!p.is_null(), "{what}: returned null");
            let usable = unsafe { mspace_usable_size(p) };
            assert!(usable >= count * elem, "{what}: usable {usable}");
            assert!(
                unsafe { all_zero(p.cast(), usable) },
                "{what}: memory is not zeroed"
            );
            unsafe { p.cast::<u8>().write_bytes(0x5A, usable) };
            blocks.push(p);
            step_ok(msp, &what);
        }
        for p in blocks {
            unsafe { mspace_free(msp, p) };
        }
    });
}

#[test]
fn realloc_keeps_contents() {
    let _serial = serial();
    const STEPS: [usize; 9] = [50, 5000, 400 * KIB, 3 * MIB, 100, 10, 200 * KIB, 24, 1];
    on_each_heap(|msp, name| {
        // realloc(NULL, n) is malloc(n).
        let mut p = unsafe { mspace_realloc(msp, null_mut(), 100) };
        let mut size = 100;
        accept(p, size, 7, &format!("{name}: realloc(NULL, 100)"));
        // A neighbour so that growing cannot always happen in place.
        let neighbour = unsafe { mspace_malloc(msp, 64) };
        assert!(!neighbour.is_null());
        for new in STEPS {
            let what = format!("{name}: mspace_realloc({size} -> {new})");
            let q = unsafe { mspace_realloc(msp, p, new) };
            assert!(!q.is_null(), "{what}: returned null");
            assert_eq!(q as usize % MALLOC_ALIGNMENT, 0, "{what}");
            assert!(unsafe { mspace_usable_size(q) } >= new, "{what}");
            unsafe { assert_pattern(q.cast(), 0, size.min(new), 7, &what) };
            unsafe { fill(q.cast(), 0, new, 7) };
            step_ok(msp, &what);
            p = q;
            size = new;
        }
        // A refused realloc leaves the block as it was.
        for huge in [usize::MAX, usize::MAX / 2, usize::MAX - page_size()] {
            let q = unsafe { mspace_realloc(msp, p, huge) };
            assert!(q.is_null(), "{name}: realloc to {huge} returned {q:?}");
            unsafe { assert_pattern(p.cast(), 0, size, 7, name) };
        }
        // realloc(p, 0) frees p and returns NULL: the in-use blocks are
        // back to the neighbour alone.
        let q = unsafe { mspace_realloc(msp, p, 0) };
        assert!(q.is_null(), "{name}: realloc(p, 0) returned {q:?}");
        assert_eq!(
            in_use_blocks(msp),
            vec![(neighbour as usize, unsafe { mspace_usable_size(neighbour) })],
            "{name}: after realloc(p, 0)"
        );
        step_ok(msp, &format!("{name}: after realloc(p, 0)"));
        unsafe { mspace_free(msp, neighbour) };
    });
}

#[test]
fn realloc_in_place_never_moves() {
    let _serial = serial();
    on_each_heap(|msp, name| {
        let p = accept(unsafe { mspace_malloc(msp, 1000) }, 1000, 1, name);
        let mut size = 1000;
        // Shrinking always works in place.
        let q = unsafe { mspace_realloc_in_place(msp, p, 500) };
        assert_eq!(q, p, "{name}: shrinking in place");
        size = size.min(500);
        // A neighbour blocks growth.
        let neighbour = unsafe { mspace_malloc(msp, 100) };
        assert!(!neighbour.is_null());
        let usable = unsafe { mspace_usable_size(p) };
        let q = unsafe { mspace_realloc_in_place(msp, p, usable + 64) };
        assert!(q.is_null(), "{name}: grew in place over a live neighbour");
        unsafe { assert_pattern(p.cast(), 0, size, 1, name) };
        // Once the neighbour is free, growth into it works.
        unsafe { mspace_free(msp, neighbour) };
        let q = unsafe { mspace_realloc_in_place(msp, p, usable + 64) };
        assert_eq!(q, p, "{name}: growing into a free neighbour");
        unsafe { assert_pattern(p.cast(), 0, size, 1, name) };
        unsafe { fill(p.cast(), 0, usable + 64, 1) };
        size = usable + 64;
        step_ok(msp, &format!("{name}: small block resized in place"));

        // A directly mapped block shrinks in place and cannot grow.
        let big = accept(unsafe { mspace_malloc(msp, 8 * MIB) }, 8 * MIB, 2, name);
        assert_eq!(unsafe { mspace_realloc_in_place(msp, big, 5 * MIB) }, big);
        assert!(unsafe { mspace_usable_size(big) } >= 5 * MIB);
        unsafe { assert_pattern(big.cast(), 0, 5 * MIB, 2, name) };
        let q = unsafe { mspace_realloc_in_place(msp, big, 64 * MIB) };
        assert!(q.is_null(), "{name}: 64 MiB in place returned {q:?}");
        unsafe { assert_pattern(big.cast(), 0, 5 * MIB, 2, name) };
        step_ok(msp, &format!("{name}: large block resized in place"));

        // Random resizes: the result is always the block itself or null.
        let mut rng = Rng::new(0x001A_B1AC);
        for i in 0..300 {
            let new = rng.range(1, 20_000);
            let q = unsafe { mspace_realloc_in_place(msp, p, new) };
            if q.is_null() {
                unsafe { assert_pattern(p.cast(), 0, size, 1, name) };
                continue;
            }
            assert_eq!(q, p, "{name}: resize {i} moved the block");
            assert!(unsafe { mspace_usable_size(p) } >= new);
            unsafe { assert_pattern(p.cast(), 0, size.min(new), 1, name) };
            unsafe { fill(p.cast(), 0, new, 1) };
            size = new;
            if rng.chance(20) {
                // Something after it, sometimes.
                let other = unsafe { mspace_malloc(msp, rng.range(1, 3000)) };
                assert!(!other.is_null());
                if rng.chance(50) {
                    unsafe { mspace_free(msp, other) };
                }
            }
        }
        assert!(unsafe { mspace_realloc_in_place(msp, null_mut(), 10) }.is_null());
        step_ok(msp, &format!("{name}: after random in-place resizes"));
        unsafe { mspace_free(msp, p) };
        unsafe { mspace_free(msp, big) };
    });
}

#[test]
fn memalign_every_power_of_two() {
    let _serial = serial();
    const SIZES: [usize; 4] = [1, 24, 1000, 100 * KIB];
    on_each_heap(|msp, name| {
        let mut seed = 0;
        for shift in 0..=20 {
            let align = 1usize << shift;
            let mut blocks = Vec::new();
            for size in SIZES {
                seed += 1;
                let what = format!("{name}: mspace_memalign({align}, {size})");
                let p = accept(
                    unsafe { mspace_memalign(msp, align, size) },
                    size,
                    seed,
                    &what,
                );
                assert_eq!(p as usize % align, 0, "{what}: got {p:?}");
                blocks.push((p, size, seed));
            }
            step_ok(msp, &format!("{name}: alignment {align}"));
            for (p, size, seed) in blocks {
                unsafe { assert_pattern(p.cast(), 0, size, seed, name) };
                unsafe { mspace_free(msp, p) };
            }
        }
        // Not a power of two: rounded up to the next one.
        for align in [0usize, 3, 24, 1000, 3000, 100_000] {
            let p = unsafe { mspace_memalign(msp, align, 200) };
            let what = format!("{name}: mspace_memalign({align}, 200)");
            accept(p, 200, 0, &what);
            let want = align.max(1).next_power_of_two();
            assert_eq!(p as usize % want, 0, "{what}: got {p:?}");
            unsafe { mspace_free(msp, p) };
        }
        step_ok(msp, &format!("{name}: after memalign"));
    });
}

#[test]
fn independent_calloc_comalloc_and_bulk_free() {
    let _serial = serial();
    on_each_heap(|msp, name| {
        let dirty = unsafe { mspace_malloc(msp, 64 * KIB) };
        assert!(!dirty.is_null());
        unsafe { dirty.cast::<u8>().write_bytes(0xEE, 64 * KIB) };
        unsafe { mspace_free(msp, dirty) };
        let baseline = in_use_blocks(msp);

        // independent_calloc with an array the core allocates.
        let n = 40;
        let array = unsafe { mspace_independent_calloc(msp, n, 48, null_mut()) };
        assert!(!array.is_null(), "{name}: independent_calloc returned null");
        let blocks = unsafe { core::slice::from_raw_parts_mut(array, n) };
        for (i, &p) in blocks.iter().enumerate() {
            assert!(!p.is_null() && p as usize % MALLOC_ALIGNMENT == 0);
            assert!(unsafe { mspace_usable_size(p) } >= 48);
            assert!(unsafe { all_zero(p.cast(), 48) }, "{name}: block {i} dirty");
            unsafe { fill(p.cast(), 0, 48, 100 + i as u64) };
        }
        for pair in blocks.windows(2) {
            assert!(pair[0] as usize + 48 <= pair[1] as usize, "{name}: overlap");
        }
        step_ok(msp, &format!("{name}: after independent_calloc"));
        for (i, &p) in blocks.iter().enumerate() {
            unsafe { assert_pattern(p.cast(), 0, 48, 100 + i as u64, name) };
        }
        // Half one by one, the rest (with a null among them) in bulk.
        for p in blocks.iter_mut().step_by(2) {
            unsafe { mspace_free(msp, *p) };
            *p = null_mut();
        }
        assert_eq!(unsafe { mspace_bulk_free(msp, array, n) }, 0);
        assert!(blocks.iter().all(|p| p.is_null()), "{name}: entries kept");
        unsafe { mspace_free(msp, array.cast()) };
        step_ok(msp, &format!("{name}: after bulk_free"));
        assert_eq!(in_use_blocks(msp), baseline, "{name}: after bulk_free");

        // independent_calloc into the caller's array.
        let mut mine = [null_mut::<c_void>(); 10];
        let got = unsafe { mspace_independent_calloc(msp, 10, 1000, mine.as_mut_ptr()) };
        assert_eq!(got, mine.as_mut_ptr(), "{name}: not the caller's array");
        for &p in &mine {
            assert!(!p.is_null() && unsafe { all_zero(p.cast(), 1000) });
        }
        assert_eq!(unsafe { mspace_bulk_free(msp, mine.as_mut_ptr(), 10) }, 0);
        assert!(mine.iter().all(|p| p.is_null()));
        let got = unsafe { mspace_independent_calloc(msp, 0, 8, mine.as_mut_ptr()) };
        assert_eq!(got, mine.as_mut_ptr(), "{name}: n = 0 with an array");

        // independent_comalloc, sizes up to past the mmap threshold: all
        // from one chunk of the heap.
        let sizes = [1usize, 100, 4000, 300 * KIB, 17, 64 * KIB];
        let array =
            unsafe { mspace_independent_comalloc(msp, sizes.len(), sizes.as_ptr(), null_mut()) };
        assert!(
            !array.is_null(),
            "{name}: independent_comalloc returned null"
        );
        let blocks = unsafe { core::slice::from_raw_parts_mut(array, sizes.len()) };
        for (i, (&p, &size)) in blocks.iter().zip(&sizes).enumerate() {
            accept(
                p,
                size,
                200 + i as u64,
                &format!("{name}: comalloc block {i}"),
            );
        }
        step_ok(msp, &format!("{name}: after independent_comalloc"));
        for (i, (&p, &size)) in blocks.iter().zip(&sizes).enumerate() {
            unsafe { assert_pattern(p.cast(), 0, size, 200 + i as u64, name) };
        }
        assert_eq!(unsafe { mspace_bulk_free(msp, array, sizes.len()) }, 0);
        assert!(blocks.iter().all(|p| p.is_null()), "{name}: entries kept");
        unsafe { mspace_free(msp, array.cast()) };
        step_ok(msp, &format!("{name}: after freeing the comalloc blocks"));
        assert_eq!(in_use_blocks(msp), baseline, "{name}: at the end");
    });
}

#[test]
fn trim_gives_top_back() {
    let _serial = serial();
    // No automatic trimming while freeing, so that mspace_trim has work.
    let _threshold = TrimThreshold::set(-1);
    let page = page_size();
    for locked in [0, 1] {
        let name = format!("create_mspace(0, {locked})");
        let before = mapped_bytes();
        let msp = unsafe { create_mspace(0, locked) };
        assert!(!msp.is_null());
        // 8 MiB in blocks below the mmap threshold: segments grow.
        let blocks: Vec<*mut c_void> = (0..64)
            .map(|i| accept(unsafe { mspace_malloc(msp, 128 * KIB) }, 16, i, &name))
            .collect();
        for p in blocks {
            unsafe { mspace_free(msp, p) };
        }
        step_ok(msp, &format!("{name}: all freed"));
        let full = unsafe { mspace_footprint(msp) };
        assert!(full > 8 * MIB, "{name}: footprint {full}");
        assert_eq!(mapped_bytes() - before, full, "{name}: mapped bytes");
        // Top is the free end of the newest segment. How large it is
        // depends on the platform: Linux grows a segment in place
        // (mremap), while on Windows a new mapping joins the segment below
        // only if it happens to land right above it.
        let top = consistent_mallinfo(msp, &format!("{name}: all freed")).keepcost;

        // With a pad, at least the pad stays in top (all of top, if smaller).
        assert_eq!(unsafe { mspace_trim(msp, MIB) }, 1, "{name}: trim(1 MiB)");
        let padded = unsafe { mspace_footprint(msp) };
        let mi = consistent_mallinfo(msp, &format!("{name}: after trim(1 MiB)"));
        assert!(padded < full, "{name}: trim(1 MiB) kept {padded} of {full}");
        assert!(
            mi.keepcost >= MIB.min(top),
            "{name}: top {} < pad (top was {top})",
            mi.keepcost
        );
        assert_eq!(mapped_bytes() - before, padded, "{name}: mapped bytes");
        unsafe { assert_mspace_ok(msp, &format!("{name}: after trim(1 MiB)")) };

        // Without one, less than a page of top is left; again, nothing.
        assert_eq!(unsafe { mspace_trim(msp, 0) }, 1, "{name}: trim(0)");
        let trimmed = unsafe { mspace_footprint(msp) };
        let mi = consistent_mallinfo(msp, &format!("{name}: after trim(0)"));
        assert!(trimmed < padded, "{name}: trim(0) kept {trimmed}");
        assert!(mi.keepcost < 2 * page, "{name}: top {} left", mi.keepcost);
        assert_eq!(mapped_bytes() - before, trimmed, "{name}: mapped bytes");
        assert_eq!(unsafe { mspace_trim(msp, 0) }, 0, "{name}: second trim(0)");
        assert_eq!(unsafe { mspace_footprint(msp) }, trimmed);
        unsafe { assert_mspace_ok(msp, &format!("{name}: after trim(0)")) };

        // The trimmed heap still serves requests.
        let p = accept(unsafe { mspace_malloc(msp, 3 * MIB) }, 3 * MIB, 9, &name);
        let q = accept(unsafe { mspace_malloc(msp, 100) }, 100, 10, &name);
        unsafe { mspace_free(msp, p) };
        unsafe { mspace_free(msp, q) };
        step_ok(msp, &format!("{name}: used after trimming"));
        let last = unsafe { mspace_footprint(msp) };
        assert_eq!(unsafe { destroy_mspace(msp) }, last);
        assert_eq!(mapped_bytes(), before, "{name}: after destroy_mspace");
    }
}

#[test]
fn mallinfo_stays_consistent() {
    let _serial = serial();
    on_each_heap(|msp, name| {
        let mut rng = Rng::new(0x03A1_11F0);
        let mut live: Vec<*mut c_void> = Vec::new();
        for i in 0..400 {
            if live.is_empty() || rng.chance(60) {
                let size = if rng.chance(3) {
                    rng.range(300 * KIB, 3 * MIB)
                } else {
                    rng.range(1, 20_000)
                };
                let p = unsafe { mspace_malloc(msp, size) };
                accept(p, size.min(64), i, name);
                live.push(p);
            } else {
                let p = live.swap_remove(rng.below(live.len()));
                unsafe { mspace_free(msp, p) };
            }
            consistent_mallinfo(msp, &format!("{name}: step {i}"));
            if i % 50 == 0 {
                unsafe { assert_mspace_ok(msp, &format!("{name}: step {i}")) };
            }
        }
        // A request larger than the whole heap gets its own mapping (large
        // chunks are not tracked by default).
        let before = consistent_mallinfo(msp, name);
        let size = unsafe { mspace_footprint(msp) } + MIB;
        let big = accept(unsafe { mspace_malloc(msp, size) }, 64, 0, name);
        let after = consistent_mallinfo(msp, &format!("{name}: after malloc({size})"));
        assert_eq!(after.hblks, before.hblks + 1, "{name}: {after:?}");
        assert!(after.hblkhd >= before.hblkhd + size, "{name}: {after:?}");
        assert!(
            after.uordblks >= before.uordblks + size,
            "{name}: {after:?}"
        );
        assert_eq!(after.arena, before.arena, "{name}: {after:?}");
        unsafe { mspace_free(msp, big) };
        let freed = consistent_mallinfo(msp, &format!("{name}: after freeing it"));
        assert_eq!(
            (freed.hblks, freed.hblkhd),
            (before.hblks, before.hblkhd),
            "{name}"
        );
        for p in live {
            unsafe { mspace_free(msp, p) };
        }
        let end = consistent_mallinfo(msp, &format!("{name}: all freed"));
        assert_eq!((end.hblks, end.hblkhd), (0, 0), "{name}: {end:?}");
    });
}

#[test]
fn footprint_limit_is_enforced() {
    let _serial = serial();
    const BLOCK: usize = 64 * KIB;
    let page = page_size();
    let granule = granularity();
    for locked in [0, 1] {
        let name = format!("create_mspace(0, {locked})");
        let msp = unsafe { create_mspace(0, locked) };
        assert!(!msp.is_null());
        assert_eq!(unsafe { mspace_footprint_limit(msp) }, usize::MAX);
        let start = unsafe { mspace_footprint(msp) };
        let asked = start + 3 * MIB + 123;
        let limit = unsafe { mspace_set_footprint_limit(msp, asked) };
        assert_eq!(limit, round_up(asked, page), "{name}: limit for {asked}");
        assert_eq!(unsafe { mspace_footprint_limit(msp) }, limit);

        let mut blocks = Vec::new();
        let mut refused = false;
        for i in 0..1000 {
            let p = unsafe { mspace_malloc(msp, BLOCK) };
            let footprint = unsafe { mspace_footprint(msp) };
            assert!(
                footprint <= limit,
                "{name}: footprint {footprint} > {limit}"
            );
            assert!(unsafe { mspace_max_footprint(msp) } <= limit);
            if p.is_null() {
                refused = true;
                break;
            }
            blocks.push(accept(p, BLOCK, i, &name));
        }
        assert!(refused, "{name}: 1000 blocks of 64 KiB fit under {limit}");
        let footprint = unsafe { mspace_footprint(msp) };
        assert!(
            limit - footprint < granule + 2 * BLOCK,
            "{name}: gave up with {} bytes of room",
            limit - footprint
        );
        step_ok(msp, &format!("{name}: at the limit"));
        // Nothing larger than the free bytes inside the heap plus the room
        // the limit leaves succeeds, mapped or not.
        let room = limit - footprint + unsafe { mspace_mallinfo(msp) }.fordblks;
        for size in [room + page, room + MIB, room + 4 * MIB] {
            assert!(
                unsafe { mspace_malloc(msp, size) }.is_null(),
                "{name}: {size}"
            );
            assert!(unsafe { mspace_calloc(msp, 1, size) }.is_null(), "{name}");
            assert!(unsafe { mspace_memalign(msp, 4096, size) }.is_null());
            let q = unsafe { mspace_realloc(msp, blocks[0], size) };
            assert!(q.is_null(), "{name}: realloc to {size} at the limit");
            unsafe { assert_pattern(blocks[0].cast(), 0, BLOCK, 0, &name) };
            assert_eq!(unsafe { mspace_footprint(msp) }, footprint, "{name}");
        }
        step_ok(msp, &format!("{name}: after refused requests"));

        // Raising the limit makes allocation work again.
        let raised = unsafe { mspace_set_footprint_limit(msp, limit + 8 * MIB) };
        assert_eq!(raised, limit + 8 * MIB);
        let p = accept(unsafe { mspace_malloc(msp, BLOCK) }, BLOCK, 1000, &name);
        let q = accept(unsafe { mspace_malloc(msp, 2 * MIB) }, 2 * MIB, 1001, &name);
        assert!(unsafe { mspace_footprint(msp) } <= raised);
        unsafe { mspace_free(msp, q) };
        blocks.push(p);
        step_ok(msp, &format!("{name}: after raising the limit"));

        // A limit below the footprint: nothing new from the system, and the
        // heap keeps what it has.
        let footprint = unsafe { mspace_footprint(msp) };
        assert_eq!(unsafe { mspace_set_footprint_limit(msp, 1) }, page);
        assert!(unsafe { mspace_malloc(msp, 4 * MIB) }.is_null());
        assert_eq!(unsafe { mspace_footprint(msp) }, footprint);
        unsafe { mspace_free(msp, blocks.pop().expect("a block")) };
        let p = accept(unsafe { mspace_malloc(msp, BLOCK) }, BLOCK, 1002, &name);
        blocks.push(p);
        step_ok(msp, &format!("{name}: under a limit below the footprint"));

        // 0 and usize::MAX remove the limit.
        assert_eq!(unsafe { mspace_set_footprint_limit(msp, 0) }, usize::MAX);
        assert_eq!(unsafe { mspace_footprint_limit(msp) }, usize::MAX);
        let q = accept(unsafe { mspace_malloc(msp, 4 * MIB) }, 4 * MIB, 1003, &name);
        unsafe { mspace_free(msp, q) };
        let _ = unsafe { mspace_set_footprint_limit(msp, page) };
        assert_eq!(
            unsafe { mspace_set_footprint_limit(msp, usize::MAX) },
            usize::MAX
        );
        let q = accept(unsafe { mspace_malloc(msp, 4 * MIB) }, 4 * MIB, 1004, &name);
        unsafe { mspace_free(msp, q) };

        for p in blocks {
            unsafe { mspace_free(msp, p) };
        }
        step_ok(msp, &format!("{name}: at the end"));
        unsafe { destroy_mspace(msp) };
    }
}

#[test]
fn track_large_chunks_keeps_large_blocks_in_segments() {
    let _serial = serial();
    for locked in [0, 1] {
        let name = format!("create_mspace(0, {locked})");
        // Control: by default a large request gets its own mapping.
        let control = unsafe { create_mspace(0, locked) };
        assert!(!control.is_null());
        let p = unsafe { mspace_malloc(control, 3 * MIB) };
        assert!(!p.is_null());
        assert_eq!(unsafe { mspace_mallinfo(control) }.hblks, 1, "{name}");
        unsafe { destroy_mspace(control) };

        let msp = unsafe { create_mspace(0, locked) };
        assert!(!msp.is_null());
        assert_eq!(unsafe { mspace_track_large_chunks(msp, 1) }, 0, "{name}");
        let mut blocks = Vec::new();
        let requests: [(&str, usize); 5] = [
            ("malloc", MIB),
            ("malloc", 3 * MIB),
            ("memalign", 2 * MIB),
            ("calloc", 5 * MIB),
            ("realloc", 9 * MIB),
        ];
        for (i, (how, size)) in requests.into_iter().enumerate() {
            let seed = i as u64;
            let p = match how {
                "malloc" => unsafe { mspace_malloc(msp, size) },
                "memalign" => unsafe { mspace_memalign(msp, MIB, size) },
                "calloc" => unsafe { mspace_calloc(msp, 1, size) },
                _ => {
                    let small = accept(unsafe { mspace_malloc(msp, 100) }, 100, seed, &name);
                    let p = unsafe { mspace_realloc(msp, small, size) };
                    unsafe { assert_pattern(p.cast(), 0, 100, seed, &name) };
                    p
                }
            };
            let what = format!("{name}: tracked {how}({size})");
            accept(p, size, seed, &what);
            blocks.push((p, size, seed));
            let mi = consistent_mallinfo(msp, &what);
            assert_eq!((mi.hblks, mi.hblkhd), (0, 0), "{what}: {mi:?}");
            unsafe { assert_mspace_ok(msp, &what) };
        }
        for &(p, size, seed) in &blocks {
            unsafe { assert_pattern(p.cast(), 0, size, seed, &name) };
        }
        // The next call reports the setting in force, and switching back
        // maps large requests again.
        assert_eq!(unsafe { mspace_track_large_chunks(msp, 1) }, 1, "{name}");
        assert_eq!(unsafe { mspace_track_large_chunks(msp, 0) }, 1, "{name}");
        let size = unsafe { mspace_footprint(msp) } + MIB;
        let big = accept(unsafe { mspace_malloc(msp, size) }, size, 99, &name);
        assert_eq!(unsafe { mspace_mallinfo(msp) }.hblks, 1, "{name}");
        assert_eq!(unsafe { mspace_track_large_chunks(msp, 0) }, 0, "{name}");
        unsafe { mspace_free(msp, big) };
        for (p, _, _) in blocks {
            unsafe { mspace_free(msp, p) };
        }
        step_ok(msp, &format!("{name}: at the end"));
        unsafe { destroy_mspace(msp) };
    }
}

#[test]
fn inspect_all_visits_every_live_block() {
    let _serial = serial();
    on_each_heap(|msp, name| {
        let mut rng = Rng::new(0x001A_5EC7);
        let mut live = Vec::new();
        for i in 0..300u64 {
            let p = match i % 50 {
                7 => unsafe { mspace_malloc(msp, rng.range(MIB, 3 * MIB)) },
                8 => unsafe { mspace_memalign(msp, 64 * KIB, 1000) },
                9 => unsafe { mspace_calloc(msp, 10, 100) },
                _ => unsafe { mspace_malloc(msp, rng.range(1, 5000)) },
            };
            assert!(!p.is_null(), "{name}: allocation {i}");
            live.push(p as usize);
        }
        let mut freed = Vec::new();
        for i in (0..live.len()).rev().step_by(3) {
            let p = live.swap_remove(i);
            unsafe { mspace_free(msp, p as *mut c_void) };
            freed.push(p);
        }
        unsafe { assert_mspace_ok(msp, name) };

        let ranges = unsafe { Heap::mspace(msp) }.ranges();
        let in_use: Vec<(usize, usize, usize)> =
            ranges.iter().copied().filter(|r| r.2 > 0).collect();
        for &p in &live {
            let usable = unsafe { mspace_usable_size(p as *const c_void) };
            let hits: Vec<_> = in_use.iter().filter(|r| r.0 == p).collect();
            assert_eq!(
                hits,
                [&(p, p + usable, usable)],
                "{name}: live block {p:#x} ({usable} bytes)"
            );
        }
        assert_eq!(
            in_use.len(),
            live.len(),
            "{name}: in-use chunks that are no live block"
        );
        for &p in &freed {
            assert!(
                !in_use.iter().any(|r| r.0 <= p && p < r.1),
                "{name}: freed block {p:#x} reported in use"
            );
        }
        assert!(
            ranges.iter().any(|r| r.2 == 0),
            "{name}: no free range reported"
        );
        for p in live {
            unsafe { mspace_free(msp, p as *mut c_void) };
        }
        assert!(in_use_blocks(msp).is_empty(), "{name}: after freeing all");
    });
}

#[test]
fn huge_requests_fail_cleanly() {
    let _serial = serial();
    let page = page_size();
    // At or above MAX_REQUEST (usize::MAX / 2): refused at once everywhere.
    let mut huge = vec![
        usize::MAX,
        usize::MAX - 1,
        usize::MAX - page,
        usize::MAX / 2 + 1,
        usize::MAX / 2,
    ];
    if cfg!(target_pointer_width = "64") {
        // Below MAX_REQUEST, so refused only because no address space holds
        // them; on 32-bit they are 2 GiB and 1 GiB, which a heap that grows
        // (capacity 0) can really get.
        huge.extend([usize::MAX / 2 - 1, usize::MAX / 4]);
    }
    on_each_heap(|msp, name| {
        let p = accept(unsafe { mspace_malloc(msp, 100) }, 100, 5, name);
        let footprint = unsafe { mspace_footprint(msp) };
        for &size in &huge {
            let what = format!("{name}: {size:#x} bytes");
            assert!(
                unsafe { mspace_malloc(msp, size) }.is_null(),
                "{what}: malloc"
            );
            assert!(
                unsafe { mspace_calloc(msp, 1, size) }.is_null(),
                "{what}: calloc"
            );
            assert!(
                unsafe { mspace_calloc(msp, size, 1) }.is_null(),
                "{what}: calloc"
            );
            assert!(unsafe { mspace_realloc(msp, p, size) }.is_null(), "{what}");
            assert!(unsafe { mspace_realloc_in_place(msp, p, size) }.is_null());
            for align in [16, 4096, MIB] {
                let q = unsafe { mspace_memalign(msp, align, size) };
                assert!(q.is_null(), "{what}: memalign({align})");
            }
            let q = unsafe { mspace_memalign(msp, size, 16) };
            assert!(q.is_null(), "{what}: as an alignment");
            let sizes = [16, size, 16];
            let q = unsafe { mspace_independent_comalloc(msp, 3, sizes.as_ptr(), null_mut()) };
            assert!(q.is_null(), "{what}: comalloc");
            let q = unsafe { mspace_independent_calloc(msp, 2, size, null_mut()) };
            assert!(q.is_null(), "{what}: independent_calloc elements");
            let q = unsafe { mspace_independent_calloc(msp, size, 8, null_mut()) };
            assert!(q.is_null(), "{what}: independent_calloc count");
            unsafe { assert_pattern(p.cast(), 0, 100, 5, &what) };
        }
        // Products that overflow.
        for (count, elem) in [
            (usize::MAX, 2),
            (2, usize::MAX / 2 + 1),
            (1 << (usize::BITS / 2), 1 << (usize::BITS / 2)),
            (usize::MAX / 16 + 1, 16),
            (3, usize::MAX / 3 + 1),
        ] {
            let q = unsafe { mspace_calloc(msp, count, elem) };
            assert!(q.is_null(), "{name}: calloc({count}, {elem})");
        }
        assert_eq!(
            unsafe { mspace_footprint(msp) },
            footprint,
            "{name}: leaked"
        );
        step_ok(msp, &format!("{name}: after refused requests"));
        unsafe { mspace_free(msp, p) };
    });
}

#[test]
fn impossible_heaps_are_refused() {
    let _serial = serial();
    let granule = granularity();
    let before = (mapped_bytes(), map_count());
    // At or above MAX_REQUEST (usize::MAX / 2): refused at once everywhere.
    let mut capacities = vec![
        usize::MAX,
        usize::MAX - 1,
        usize::MAX - granule,
        usize::MAX / 2 + 1,
        usize::MAX / 2,
    ];
    if cfg!(target_pointer_width = "64") {
        // Below MAX_REQUEST, so refused only because no address space holds
        // it; on 32-bit it is 1 GiB, which can really be mapped.
        capacities.push(usize::MAX / 4);
    }
    for locked in [0, 1] {
        for &capacity in &capacities {
            let msp = unsafe { create_mspace(capacity, locked) };
            assert!(
                msp.is_null(),
                "create_mspace({capacity:#x}, {locked}) returned {msp:?}"
            );
        }
        let mut region = vec![0u8; 4096];
        let base = region.as_mut_ptr().cast::<c_void>();
        // A region too small for the heap's own state.
        for capacity in [0, 1, 64, 256] {
            let msp = unsafe { create_mspace_with_base(base, capacity, locked) };
            assert!(msp.is_null(), "with_base(buf, {capacity}) gave {msp:?}");
        }
        let msp = unsafe { create_mspace_with_base(null_mut(), MIB, locked) };
        assert!(msp.is_null(), "with_base(NULL, 1 MiB) gave {msp:?}");
        // A region that would wrap around the address space.
        let msp = unsafe { create_mspace_with_base(base, usize::MAX, locked) };
        assert!(msp.is_null(), "with_base(buf, usize::MAX) gave {msp:?}");
        let high = core::ptr::without_provenance_mut::<c_void>(usize::MAX - 4095);
        let msp = unsafe { create_mspace_with_base(high, MIB, locked) };
        assert!(msp.is_null(), "with_base({high:?}, 1 MiB) gave {msp:?}");
        assert!(region.iter().all(|&b| b == 0), "a refused heap wrote");
    }
    assert_eq!(
        (mapped_bytes(), map_count()),
        before,
        "refused heaps mapped memory"
    );
}
