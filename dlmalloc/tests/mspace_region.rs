//! A heap over a caller's region: with `Growth::Fixed` it uses nearly all
//! of a 256 KiB static buffer without mapping memory and fails cleanly when
//! full, and grows a block in place when the memory after it is free; with
//! `Growth::Grow` it continues with new mappings.

use core::mem::MaybeUninit;
use core::ptr::{NonNull, addr_of_mut};

use allocator_api2::alloc::{Allocator, Layout};
use allocator_api2::vec::Vec;

use dlmalloc::{CreateError, Growth, Mspace};
use dlmalloc_platform_std as _;
use dlmalloc_platform_std::{map_count, mapped_bytes};
// The tests read process-wide mapping counters, so they run one at a time (`serial`).
use dlmalloc_test_support::{assert_pattern, fill as pattern, serial};

const REGION: usize = 256 << 10;

static mut FIXED: [MaybeUninit<u8>; REGION] = [MaybeUninit::uninit(); REGION];
static mut GROWING: [MaybeUninit<u8>; REGION] = [MaybeUninit::uninit(); REGION];

/// Allocates blocks of 200 to 1000 bytes until the heap says no, block `i`
/// holding the pattern for seed `i`; returns them with the bytes requested.
fn fill<A: Allocator>(
    heap: A,
    limit: Option<usize>,
) -> (std::vec::Vec<(NonNull<u8>, Layout)>, usize) {
    let mut blocks = std::vec::Vec::new();
    let mut bytes = 0;
    for i in 0u64.. {
        if limit.is_some_and(|limit| bytes >= limit) {
            break;
        }
        let layout = Layout::from_size_align(200 + (i as usize * 131) % 800, 8).unwrap();
        let Ok(block) = heap.allocate(layout) else {
            break;
        };
        let block = block.cast::<u8>();
        // SAFETY: a fresh block of `layout.size()` bytes.
        unsafe { pattern(block.as_ptr(), 0, layout.size(), i) };
        blocks.push((block, layout));
        bytes += layout.size();
    }
    (blocks, bytes)
}

/// Panics unless every block of `fill` still holds its pattern.
fn assert_intact(blocks: &[(NonNull<u8>, Layout)]) {
    for (i, &(block, layout)) in blocks.iter().enumerate() {
        let what = format!("block {i}");
        // SAFETY: a live block of `layout.size()` bytes.
        unsafe { assert_pattern(block.as_ptr(), 0, layout.size(), i as u64, &what) };
    }
}

#[test]
fn a_fixed_region_is_nearly_all_usable_and_never_maps() {
    let _serial = serial();
    // SAFETY: FIXED is used here only, and this test runs once.
    let buffer = unsafe { &mut *addr_of_mut!(FIXED) };
    let maps = map_count();
    let heap = Mspace::from_static(buffer, Growth::Fixed).unwrap();
    // The buffer need not be aligned: the heap drops a ragged end.
    let footprint = heap.stats().footprint;
    assert!(
        footprint <= REGION && footprint + 16 > REGION,
        "{footprint}"
    );
    assert!(
        heap.footprint_limit()
            .is_some_and(|limit| limit < REGION + 4096)
    );

    let (blocks, bytes) = fill(&heap, None);
    assert!(
        bytes * 10 > REGION * 9,
        "only {bytes} of {REGION} bytes were usable"
    );
    assert_eq!(map_count(), maps, "a fixed region heap mapped memory");
    assert_eq!(heap.stats().footprint, footprint);

    // Full: every further request fails cleanly, large ones too.
    let a = &heap;
    for size in [1000, 100_000, 4 << 20] {
        assert!(
            a.allocate(Layout::from_size_align(size, 8).unwrap())
                .is_err()
        );
    }
    let mut v: Vec<u8, _> = Vec::new_in(&heap);
    assert!(v.try_reserve(4096).is_err());
    heap.heap_check().unwrap();

    assert_intact(&blocks);
    for &(block, layout) in &blocks {
        // SAFETY: `block` fits `layout`; freed once.
        unsafe { a.deallocate(block, layout) };
    }
    // Empty again: the whole region serves one large block.
    let big = Layout::from_size_align(REGION * 9 / 10, 8).unwrap();
    let block = a.allocate(big).unwrap();
    // SAFETY: `block` fits `big`.
    unsafe { a.deallocate(block.cast(), big) };
    heap.heap_check().unwrap();
    assert_eq!(map_count(), maps);
}

/// A fixed region for [`blocks_grow_in_place_in_a_fixed_region`]: room for
/// a vector doubled to 8 MiB.
const GROWTH_REGION: usize = 16 << 20;

static mut GROWTH: [MaybeUninit<u8>; GROWTH_REGION] = [MaybeUninit::uninit(); GROWTH_REGION];

#[test]
fn blocks_grow_in_place_in_a_fixed_region() {
    // SAFETY: GROWTH is used here only, and this test runs once.
    let buffer = unsafe { &mut *addr_of_mut!(GROWTH) };
    let heap = Mspace::from_static(buffer, Growth::Fixed).unwrap();
    let a = &heap;

    // A vector doubled from 8 bytes to 8 MiB, alone in the heap: each
    // growth reaches into the free top, so the block never moves (no copy).
    let mut layout = Layout::from_size_align(8, 8).unwrap();
    let mut block = a.allocate(layout).unwrap().cast::<u8>();
    // SAFETY: a fresh block of 8 bytes.
    unsafe { pattern(block.as_ptr(), 0, 8, 1) };
    while layout.size() < 8 << 20 {
        let wider = Layout::from_size_align(layout.size() * 2, 8).unwrap();
        // SAFETY: `block` is live with `layout`; `wider` is larger.
        let grown = unsafe { a.grow(block, layout, wider) }
            .unwrap()
            .cast::<u8>();
        assert_eq!(
            grown,
            block,
            "growing to {} bytes moved the block",
            wider.size()
        );
        block = grown;
        layout = wider;
    }
    // SAFETY: the first 8 bytes were written above and kept by every growth.
    unsafe { assert_pattern(block.as_ptr(), 0, 8, 1, "the doubled vector") };
    // SAFETY: live with `layout`; freed once.
    unsafe { a.deallocate(block, layout) };

    // A block whose neighbour was freed grows into it, top or not.
    let small = Layout::from_size_align(1000, 8).unwrap();
    let first = a.allocate(small).unwrap().cast::<u8>();
    let neighbour = a.allocate(small).unwrap().cast::<u8>();
    let fence = a.allocate(small).unwrap().cast::<u8>();
    // SAFETY: fresh blocks of `small`; the neighbour is freed once.
    unsafe {
        pattern(first.as_ptr(), 0, small.size(), 2);
        a.deallocate(neighbour, small);
    }
    let wider = Layout::from_size_align(1800, 8).unwrap();
    // SAFETY: `first` is live with `small`.
    let grown = unsafe { a.grow(first, small, wider) }.unwrap().cast::<u8>();
    assert_eq!(
        grown, first,
        "growing into the freed neighbour moved the block"
    );
    // SAFETY: the block kept its first `small.size()` bytes; both are freed once.
    unsafe {
        assert_pattern(grown.as_ptr(), 0, small.size(), 2, "the grown block");
        a.deallocate(grown, wider);
        a.deallocate(fence, small);
    }
    heap.heap_check().unwrap();
}

#[test]
fn a_growing_region_continues_with_mappings() {
    let _serial = serial();
    // SAFETY: GROWING is used here only, and this test runs once.
    let buffer = unsafe { &mut *addr_of_mut!(GROWING) };
    let (maps, mapped) = (map_count(), mapped_bytes());
    let heap = Mspace::from_static_locked(buffer, Growth::Grow).unwrap();
    assert_eq!(heap.footprint_limit(), None);

    let (blocks, bytes) = fill(&heap, Some(4 * REGION));
    assert!(
        bytes >= 4 * REGION,
        "the heap stopped growing at {bytes} bytes"
    );
    assert!(map_count() > maps, "no mapping was made");
    assert!(heap.stats().footprint > REGION);
    heap.heap_check().unwrap();
    assert_intact(&blocks);

    drop(heap);
    assert_eq!(
        mapped_bytes(),
        mapped,
        "the mappings beyond the region leaked"
    );
}

#[test]
fn a_raw_region_serves_blocks_and_is_given_back() {
    let _serial = serial();
    let mut memory = std::vec![0u64; 8192];
    let base = NonNull::new(memory.as_mut_ptr().cast::<u8>()).unwrap();
    let maps = map_count();
    // SAFETY: `memory` is valid for 64 KiB and untouched until the heap is
    // dropped.
    let heap = unsafe { Mspace::from_raw_region(base, 64 << 10, Growth::Fixed) }.unwrap();
    let (blocks, bytes) = fill(&heap, None);
    assert!(
        bytes * 10 > (64 << 10) * 9,
        "only {bytes} bytes were usable"
    );
    assert!(!blocks.is_empty());
    assert_eq!(map_count(), maps);
    heap.heap_check().unwrap();
    drop(heap);
    memory.fill(7); // the caller's memory again
    assert!(memory.iter().all(|&w| w == 7));
}

#[test]
fn a_region_too_small_for_the_heap_is_refused() {
    let mut tiny = [0u64; 8];
    let base = NonNull::new(tiny.as_mut_ptr().cast::<u8>()).unwrap();
    // SAFETY: `tiny` is valid for 64 bytes and unused while the call runs
    // (it fails, so no heap keeps it).
    let result = unsafe { Mspace::from_raw_region(base, 64, Growth::Fixed) };
    assert_eq!(result.unwrap_err(), CreateError::RegionTooSmall);
    let empty: &'static mut [MaybeUninit<u8>] = &mut [];
    assert_eq!(
        Mspace::from_static(empty, Growth::Grow).unwrap_err(),
        CreateError::RegionTooSmall
    );
}
