//! The page allocator on its own, on Vec-backed blocks: whole runs, tails,
//! merging in every order, reuse, several regions, exhaustion, refused
//! frees, and a randomized comparison with a bitmap model.

use std::ptr::NonNull;

use dlmalloc_platform_baremetal::{FreeError, MAX_REGIONS, PAGE_SIZE, PageAllocator};
use dlmalloc_test_support::Rng;

// The crate's hooks are linked into every binary that uses it, and they
// refer to the arena symbol; this test uses no hooks.
dlmalloc_platform_baremetal::no_static_arena!();

/// Pages in a 1 MiB block.
const BLOCK_PAGES: usize = 256;

/// A page-aligned block of `pages` pages, leaked (regions live forever).
fn block(pages: usize) -> *mut u8 {
    let bytes: &'static mut [u8] = Box::leak(vec![0u8; (pages + 1) * PAGE_SIZE].into_boxed_slice());
    let start = bytes.as_mut_ptr();
    let offset = start.align_offset(PAGE_SIZE);
    // SAFETY: `offset < PAGE_SIZE`, inside the block.
    unsafe { start.add(offset) }
}

/// An allocator over one fresh 1 MiB block; returns it and the block start.
fn one_block() -> (PageAllocator, *mut u8) {
    let start = block(BLOCK_PAGES);
    let mut pages = PageAllocator::new();
    // SAFETY: the block is leaked and used by nothing else.
    let added = unsafe { pages.add_region(start, BLOCK_PAGES * PAGE_SIZE) };
    assert_eq!(added, BLOCK_PAGES * PAGE_SIZE);
    (pages, start)
}

fn addr(p: NonNull<u8>) -> usize {
    p.as_ptr() as usize
}

/// Asserts that the allocator is whole again: every page free, in one run.
fn assert_whole(pages: &PageAllocator) {
    pages.check().unwrap();
    let stats = pages.stats();
    assert_eq!(stats.free_bytes, stats.total_bytes);
    assert_eq!(pages.free_runs(), 1);
    assert_eq!(pages.largest_free_run(), stats.total_bytes);
}

#[test]
fn whole_runs_are_adjacent_and_come_back() {
    let (mut pages, start) = one_block();
    let a = pages.alloc(3 * PAGE_SIZE).unwrap();
    let b = pages.alloc(PAGE_SIZE).unwrap();
    let c = pages.alloc(10 * PAGE_SIZE).unwrap();
    assert_eq!(addr(a), start as usize, "first fit from the lowest address");
    assert_eq!(addr(b), addr(a) + 3 * PAGE_SIZE);
    assert_eq!(addr(c), addr(b) + PAGE_SIZE);
    assert_eq!(
        pages.stats().free_bytes,
        (BLOCK_PAGES - 14) * PAGE_SIZE,
        "14 pages handed out"
    );
    pages.check().unwrap();
    // SAFETY: each range was handed out above and is not used.
    unsafe {
        pages.free(b.as_ptr(), PAGE_SIZE).unwrap();
        pages.free(a.as_ptr(), 3 * PAGE_SIZE).unwrap();
        pages.free(c.as_ptr(), 10 * PAGE_SIZE).unwrap();
    }
    assert_whole(&pages);
}

#[test]
fn lengths_round_up_to_pages_and_zero_fails() {
    let (mut pages, _) = one_block();
    assert_eq!(pages.alloc(0), None);
    let a = pages.alloc(1).unwrap();
    let b = pages.alloc(PAGE_SIZE + 1).unwrap();
    let c = pages.alloc(1).unwrap();
    assert_eq!(addr(b), addr(a) + PAGE_SIZE);
    assert_eq!(addr(c), addr(b) + 2 * PAGE_SIZE);
    // SAFETY: handed out above, not used.
    unsafe {
        pages.free(a.as_ptr(), PAGE_SIZE).unwrap();
        pages.free(b.as_ptr(), 2 * PAGE_SIZE).unwrap();
        pages.free(c.as_ptr(), PAGE_SIZE).unwrap();
    }
    assert_whole(&pages);
}

#[test]
fn memory_is_writable_and_the_bookkeeping_survives_it() {
    let (mut pages, _) = one_block();
    let a = pages.alloc(8 * PAGE_SIZE).unwrap();
    let b = pages.alloc(8 * PAGE_SIZE).unwrap();
    // SAFETY: both ranges were handed out and are ours to write.
    unsafe {
        a.as_ptr().write_bytes(0xA5, 8 * PAGE_SIZE);
        b.as_ptr().write_bytes(0x5A, 8 * PAGE_SIZE);
    }
    pages.check().unwrap();
    // SAFETY: `b` is untouched by writes to `a`.
    let b_bytes = unsafe { std::slice::from_raw_parts(b.as_ptr(), 8 * PAGE_SIZE) };
    assert!(b_bytes.iter().all(|&x| x == 0x5A));
    // SAFETY: handed out above, no longer used.
    unsafe {
        pages.free(a.as_ptr(), 8 * PAGE_SIZE).unwrap();
        pages.free(b.as_ptr(), 8 * PAGE_SIZE).unwrap();
    }
    assert_whole(&pages);
}

#[test]
fn tails_and_middles_can_be_freed_separately() {
    let (mut pages, _) = one_block();
    let a = pages.alloc(16 * PAGE_SIZE).unwrap();
    let p = a.as_ptr();
    // SAFETY: every range below is a part of `a`, freed once, not used.
    unsafe {
        // The tail first, as the core does when it trims.
        pages.free(p.add(12 * PAGE_SIZE), 4 * PAGE_SIZE).unwrap();
        assert_eq!(pages.free_runs(), 1, "the tail merged with the rest");
        // A page in the middle, then the head, then what is left.
        pages.free(p.add(5 * PAGE_SIZE), PAGE_SIZE).unwrap();
        assert_eq!(pages.free_runs(), 2);
        pages.check().unwrap();
        pages.free(p, 5 * PAGE_SIZE).unwrap();
        assert_eq!(pages.free_runs(), 2);
        pages.free(p.add(6 * PAGE_SIZE), 6 * PAGE_SIZE).unwrap();
    }
    assert_whole(&pages);
}

#[test]
fn adjacent_allocations_can_be_freed_as_one_range() {
    let (mut pages, _) = one_block();
    let a = pages.alloc(4 * PAGE_SIZE).unwrap();
    let b = pages.alloc(4 * PAGE_SIZE).unwrap();
    let c = pages.alloc(4 * PAGE_SIZE).unwrap();
    assert_eq!(addr(c), addr(a) + 8 * PAGE_SIZE);
    // SAFETY: `a`, `b`, `c` are adjacent and handed out; freed once each.
    unsafe {
        // The core merges adjacent mappings into one segment and may free
        // the whole run, or a tail crossing mapping boundaries.
        pages
            .free(a.as_ptr().add(2 * PAGE_SIZE), 10 * PAGE_SIZE)
            .unwrap();
        pages.free(a.as_ptr(), 2 * PAGE_SIZE).unwrap();
    }
    let _ = b;
    assert_whole(&pages);
}

/// Frees 8 one-page allocations of a 12-page region at `start` in the order
/// given by `order` (a permutation of 0..8) and checks the merging after
/// every step.
fn free_in_order(start: *mut u8, order: &[usize]) {
    let mut pages = PageAllocator::new();
    // SAFETY: the block is leaked and used by nothing else; the previous
    // allocator over it is gone and nothing it handed out is still used.
    unsafe { pages.add_region(start, 12 * PAGE_SIZE) };
    let blocks: Vec<_> = (0..8).map(|_| pages.alloc(PAGE_SIZE).unwrap()).collect();
    let mut freed = [false; 8];
    for &i in order {
        // SAFETY: each block is handed out and freed exactly once.
        unsafe { pages.free(blocks[i].as_ptr(), PAGE_SIZE).unwrap() };
        freed[i] = true;
        pages.check().unwrap();
        // Expected runs: maximal groups of freed blocks, where the group
        // touching block 7 also merges with the never-used tail.
        let mut runs = (0..8)
            .filter(|&j| freed[j] && (j == 0 || !freed[j - 1]))
            .count();
        if !freed[7] {
            runs += 1; // the 4-page tail after the 8 blocks
        }
        assert_eq!(
            pages.free_runs(),
            runs,
            "order {order:?}, after freeing {i}"
        );
    }
    assert_whole(&pages);
}

#[test]
fn frees_in_every_order_merge_completely() {
    let start = block(12);
    // Every one of the 8! = 40320 orders (Heap's algorithm, iterative).
    let mut order: Vec<usize> = (0..8).collect();
    let mut counters = [0usize; 8];
    let mut tried = 1;
    free_in_order(start, &order);
    let mut i = 1;
    while i < order.len() {
        if counters[i] < i {
            let j = if i % 2 == 0 { 0 } else { counters[i] };
            order.swap(j, i);
            free_in_order(start, &order);
            tried += 1;
            counters[i] += 1;
            i = 1;
        } else {
            counters[i] = 0;
            i += 1;
        }
    }
    assert_eq!(tried, 40320);
}

#[test]
fn freed_pages_are_reused() {
    let (mut pages, _) = one_block();
    let a = pages.alloc(4 * PAGE_SIZE).unwrap();
    let _b = pages.alloc(4 * PAGE_SIZE).unwrap();
    // SAFETY: handed out above, not used.
    unsafe { pages.free(a.as_ptr(), 4 * PAGE_SIZE).unwrap() };
    let again = pages.alloc(4 * PAGE_SIZE).unwrap();
    assert_eq!(again, a, "the same address comes back");
    // SAFETY: as above.
    unsafe { pages.free(again.as_ptr(), 4 * PAGE_SIZE).unwrap() };
    let smaller = pages.alloc(PAGE_SIZE).unwrap();
    assert_eq!(
        smaller, a,
        "a smaller request reuses the hole, lowest first"
    );
}

#[test]
fn exhaustion_fails_and_recovers() {
    let (mut pages, _) = one_block();
    assert_eq!(pages.alloc((BLOCK_PAGES + 1) * PAGE_SIZE), None);
    assert_eq!(pages.alloc(usize::MAX), None);
    let all = pages.alloc(BLOCK_PAGES * PAGE_SIZE).unwrap();
    assert_eq!(pages.stats().free_bytes, 0);
    assert_eq!(pages.alloc(1), None);
    assert_eq!(pages.free_runs(), 0);
    pages.check().unwrap();
    // SAFETY: handed out above, not used.
    unsafe { pages.free(all.as_ptr(), BLOCK_PAGES * PAGE_SIZE).unwrap() };
    assert_whole(&pages);
}

#[test]
fn bad_frees_are_refused_and_change_nothing() {
    let (mut pages, start) = one_block();
    let a = pages.alloc(4 * PAGE_SIZE).unwrap();
    let before = pages.stats();
    let p = a.as_ptr();
    let mut outside = [0u8; 64];
    // SAFETY: every call below is refused before the allocator touches the
    // range (the point of the test); `a` stays in use throughout.
    unsafe {
        assert_eq!(pages.free(p.add(1), PAGE_SIZE), Err(FreeError::Unaligned));
        assert_eq!(pages.free(p, PAGE_SIZE - 1), Err(FreeError::Unaligned));
        assert_eq!(pages.free(p, 0), Err(FreeError::Unaligned));
        assert_eq!(
            pages.free(
                outside.as_mut_ptr().map_addr(|x| x & !(PAGE_SIZE - 1)),
                PAGE_SIZE
            ),
            Err(FreeError::OutsideRegions)
        );
        // Running past the end of the region.
        assert_eq!(
            pages.free(start.add((BLOCK_PAGES - 1) * PAGE_SIZE), 2 * PAGE_SIZE),
            Err(FreeError::OutsideRegions)
        );
        assert_eq!(
            pages.free(p.map_addr(|_| usize::MAX & !(PAGE_SIZE - 1)), 2 * PAGE_SIZE),
            Err(FreeError::OutsideRegions)
        );
        // Never handed out, and overlapping free pages.
        assert_eq!(
            pages.free(p.add(4 * PAGE_SIZE), PAGE_SIZE),
            Err(FreeError::NotAllocated)
        );
        assert_eq!(
            pages.free(p.add(3 * PAGE_SIZE), 2 * PAGE_SIZE),
            Err(FreeError::NotAllocated)
        );
    }
    assert_eq!(pages.stats(), before);
    pages.check().unwrap();
    // A double free is refused the second time.
    // SAFETY: `a` is no longer used; the second call is refused untouched.
    unsafe {
        pages.free(p, 4 * PAGE_SIZE).unwrap();
        assert_eq!(pages.free(p, 4 * PAGE_SIZE), Err(FreeError::NotAllocated));
        assert_eq!(
            pages.free(p.add(PAGE_SIZE), PAGE_SIZE),
            Err(FreeError::NotAllocated)
        );
    }
    assert_whole(&pages);
}

#[test]
fn two_disjoint_regions_serve_requests_in_address_order() {
    let low = block(32);
    let high = block(64);
    let (low, high) = if low < high { (low, high) } else { (high, low) };
    let mut pages = PageAllocator::new();
    // SAFETY: both blocks are leaked and used by nothing else.
    unsafe {
        assert_eq!(pages.add_region(high, 64 * PAGE_SIZE), 64 * PAGE_SIZE);
        assert_eq!(pages.add_region(low, 32 * PAGE_SIZE), 32 * PAGE_SIZE);
    }
    let stats = pages.stats();
    assert_eq!(stats.regions, 2);
    assert_eq!(stats.total_bytes, 96 * PAGE_SIZE);
    assert_eq!(pages.free_runs(), 2);
    pages.check().unwrap();

    let a = pages.alloc(20 * PAGE_SIZE).unwrap();
    assert_eq!(a.as_ptr(), low, "the lower region first");
    let b = pages.alloc(20 * PAGE_SIZE).unwrap();
    assert_eq!(b.as_ptr(), high, "12 pages left below are too few");
    let c = pages.alloc(12 * PAGE_SIZE).unwrap();
    // SAFETY: in bounds of the low block.
    assert_eq!(c.as_ptr(), unsafe { low.add(20 * PAGE_SIZE) });
    assert_eq!(pages.alloc(45 * PAGE_SIZE), None, "44 pages are left");
    let d = pages.alloc(44 * PAGE_SIZE).unwrap();
    assert_eq!(pages.stats().free_bytes, 0);
    // SAFETY: handed out above, not used.
    unsafe {
        pages.free(c.as_ptr(), 12 * PAGE_SIZE).unwrap();
        pages.free(b.as_ptr(), 20 * PAGE_SIZE).unwrap();
        pages.free(a.as_ptr(), 20 * PAGE_SIZE).unwrap();
        pages.free(d.as_ptr(), 44 * PAGE_SIZE).unwrap();
    }
    pages.check().unwrap();
    assert_eq!(pages.free_runs(), 2);
    assert_eq!(pages.stats().free_bytes, 96 * PAGE_SIZE);
}

#[test]
fn adjacent_regions_merge_and_can_be_freed_across() {
    let start = block(32);
    let mut pages = PageAllocator::new();
    // SAFETY: two halves of one leaked block, used by nothing else.
    unsafe {
        assert_eq!(
            pages.add_region(start.add(16 * PAGE_SIZE), 16 * PAGE_SIZE),
            16 * PAGE_SIZE
        );
        assert_eq!(pages.add_region(start, 16 * PAGE_SIZE), 16 * PAGE_SIZE);
    }
    assert_eq!(pages.stats().regions, 2);
    assert_eq!(pages.free_runs(), 1, "touching regions form one run");
    let all = pages.alloc(32 * PAGE_SIZE).unwrap();
    assert_eq!(all.as_ptr(), start);
    // SAFETY: handed out above, not used.
    unsafe { pages.free(all.as_ptr(), 32 * PAGE_SIZE).unwrap() };
    assert_whole(&pages);
}

#[test]
fn regions_are_trimmed_inward_and_refused_when_invalid() {
    let start = block(16);
    let mut pages = PageAllocator::new();
    // SAFETY: parts of one leaked block, used by nothing else; refused calls
    // touch nothing.
    unsafe {
        // Unaligned on both ends: the partial first and last pages are cut.
        let added = pages.add_region(start.add(100), 10 * PAGE_SIZE);
        assert_eq!(added, 9 * PAGE_SIZE);
        // Overlapping the region just added.
        assert_eq!(pages.add_region(start.add(5 * PAGE_SIZE), 4 * PAGE_SIZE), 0);
        // No whole page inside.
        assert_eq!(
            pages.add_region(start.add(12 * PAGE_SIZE + 1), PAGE_SIZE),
            0
        );
        assert_eq!(pages.add_region(start.add(12 * PAGE_SIZE), 0), 0);
        // Wrapping around the address space.
        assert_eq!(pages.add_region(start.add(12 * PAGE_SIZE), usize::MAX), 0);
        // The page at address 0 is never used.
        let null_page = std::ptr::null_mut::<u8>();
        assert_eq!(pages.add_region(null_page, PAGE_SIZE), 0);
    }
    let stats = pages.stats();
    assert_eq!(stats.regions, 1);
    assert_eq!(stats.total_bytes, 9 * PAGE_SIZE);
    let first = pages.alloc(PAGE_SIZE).unwrap();
    // SAFETY: in bounds of the block.
    assert_eq!(first.as_ptr(), unsafe { start.add(PAGE_SIZE) });
}

#[test]
fn the_region_table_is_bounded() {
    let start = block(2 * (MAX_REGIONS + 1));
    let mut pages = PageAllocator::new();
    for i in 0..MAX_REGIONS {
        // SAFETY: disjoint pages of a leaked block, used by nothing else.
        let added = unsafe { pages.add_region(start.add(2 * i * PAGE_SIZE), PAGE_SIZE) };
        assert_eq!(added, PAGE_SIZE);
    }
    // SAFETY: as above; the call is refused.
    let refused = unsafe { pages.add_region(start.add(2 * MAX_REGIONS * PAGE_SIZE), PAGE_SIZE) };
    assert_eq!(refused, 0);
    assert_eq!(pages.stats().regions, MAX_REGIONS);
    assert_eq!(pages.free_runs(), MAX_REGIONS);
    pages.check().unwrap();
}

#[test]
fn randomized_against_a_bitmap_model() {
    // Two regions with a gap between them, so runs never merge across it.
    let base = block(2 * BLOCK_PAGES + 8);
    let mut pages = PageAllocator::new();
    // SAFETY: disjoint parts of one leaked block, used by nothing else.
    unsafe {
        assert_eq!(
            pages.add_region(base, BLOCK_PAGES * PAGE_SIZE),
            BLOCK_PAGES * PAGE_SIZE
        );
        let high = base.add((BLOCK_PAGES + 8) * PAGE_SIZE);
        assert_eq!(
            pages.add_region(high, BLOCK_PAGES * PAGE_SIZE),
            BLOCK_PAGES * PAGE_SIZE
        );
    }
    let span = 2 * BLOCK_PAGES + 8;
    let page_of = |p: *mut u8| (p as usize - base as usize) / PAGE_SIZE;
    // The model: which pages (relative to `base`) are handed out; the gap
    // pages are never in a region.
    let mut used = vec![false; span];
    // Live allocations: (first page, pages, tag written at each page's
    // first and last byte).
    let mut live: Vec<(usize, usize, u8)> = Vec::new();
    // Checks that the allocator wrote nothing into a live allocation.
    let verify = |first: usize, len: usize, tag: u8| {
        for q in first..first + len {
            // SAFETY: the page belongs to a live allocation.
            unsafe {
                let page = base.add(q * PAGE_SIZE);
                assert_eq!(page.read(), tag, "page {q} start overwritten");
                assert_eq!(page.add(8).read(), tag, "page {q} overwritten");
                assert_eq!(
                    page.add(PAGE_SIZE - 1).read(),
                    tag,
                    "page {q} end overwritten"
                );
            }
        }
    };
    let mut rng = Rng::new(0x5EED_1234);
    let (mut allocs, mut failures, mut frees) = (0, 0, 0);

    for op in 0..10_000 {
        let choice = rng.below(10);
        if choice < 5 || live.is_empty() {
            let want = 1 + if rng.below(8) == 0 {
                rng.below(64)
            } else {
                rng.below(6)
            };
            // First fit from the lowest address, in the model.
            let expected = (0..span).find(|&p| {
                p + want <= span
                    && (p..p + want)
                        .all(|q| !used[q] && !(BLOCK_PAGES..BLOCK_PAGES + 8).contains(&q))
            });
            match pages.alloc(want * PAGE_SIZE) {
                Some(mem) => {
                    let first = page_of(mem.as_ptr());
                    assert_eq!(Some(first), expected, "op {op}: not first fit");
                    used[first..first + want].fill(true);
                    let tag = op as u8;
                    // SAFETY: the range was just handed out.
                    unsafe { mem.as_ptr().write_bytes(tag, want * PAGE_SIZE) };
                    live.push((first, want, tag));
                    allocs += 1;
                }
                None => {
                    assert_eq!(expected, None, "op {op}: failed although pages are free");
                    failures += 1;
                }
            }
        } else {
            // Free a whole allocation, its tail, or its head.
            let i = rng.below(live.len());
            let (first, len, tag) = live[i];
            verify(first, len, tag);
            let (from, count) = match rng.below(3) {
                0 if len > 1 => {
                    let keep = 1 + rng.below(len - 1);
                    live[i] = (first, keep, tag);
                    (first + keep, len - keep)
                }
                1 if len > 1 => {
                    let cut = 1 + rng.below(len - 1);
                    live[i] = (first + cut, len - cut, tag);
                    (first, cut)
                }
                _ => {
                    live.swap_remove(i);
                    (first, len)
                }
            };
            // SAFETY: the range is a handed-out part of a live allocation,
            // dropped from the model, no longer used.
            unsafe {
                pages
                    .free(base.add(from * PAGE_SIZE), count * PAGE_SIZE)
                    .unwrap()
            };
            assert!(used[from..from + count].iter().all(|&u| u));
            used[from..from + count].fill(false);
            frees += 1;
        }
        // Now and then, a double free of a just-freed page must be refused.
        if op % 97 == 0 {
            if let Some(free_page) =
                (0..span).find(|&q| !used[q] && !(BLOCK_PAGES..BLOCK_PAGES + 8).contains(&q))
            {
                // SAFETY: the page is free; the call is refused untouched.
                let refused = unsafe { pages.free(base.add(free_page * PAGE_SIZE), PAGE_SIZE) };
                assert_eq!(refused, Err(FreeError::NotAllocated));
            }
        }
        pages.check().unwrap_or_else(|why| panic!("op {op}: {why}"));
        let in_use = used.iter().filter(|&&u| u).count();
        assert_eq!(
            pages.stats().free_bytes,
            (2 * BLOCK_PAGES - in_use) * PAGE_SIZE
        );
    }
    assert!(
        allocs > 3000 && frees > 3000,
        "allocs {allocs}, frees {frees}"
    );
    assert!(failures > 0, "the test never reached exhaustion");

    for (first, len, tag) in live.drain(..) {
        verify(first, len, tag);
        // SAFETY: every live allocation is freed once at the end.
        unsafe {
            pages
                .free(base.add(first * PAGE_SIZE), len * PAGE_SIZE)
                .unwrap()
        };
    }
    pages.check().unwrap();
    assert_eq!(pages.free_runs(), 2, "one run per region");
    assert_eq!(pages.stats().free_bytes, 2 * BLOCK_PAGES * PAGE_SIZE);
}
