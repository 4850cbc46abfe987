//! No static arena: memory comes only from regions added at run time (as a
//! kernel adds the RAM its boot memory map reports), and the heap spans them.

use std::ffi::c_void;

use dlmalloc::DLMalloc;
use dlmalloc_platform_baremetal::{PAGE_SIZE, add_region, arena_stats};
use dlmalloc_sys::{dlfree, dlmalloc};

dlmalloc_platform_baremetal::no_static_arena!();

/// A leaked block of `len` bytes standing for RAM, deliberately not page
/// aligned (so `add_region` has to trim it).
fn ram(len: usize) -> (*mut u8, usize) {
    let bytes: &'static mut [u8] = Box::leak(vec![0u8; len + PAGE_SIZE].into_boxed_slice());
    let start = bytes.as_mut_ptr();
    let offset = start.align_offset(PAGE_SIZE) + 8;
    // SAFETY: `offset < PAGE_SIZE + 8 <= PAGE_SIZE + len`, inside the block.
    (unsafe { start.add(offset) }, len)
}

#[test]
fn two_regions_added_at_run_time_serve_the_heap() {
    // Nothing to allocate from yet.
    assert_eq!(arena_stats().total_bytes, 0);
    // SAFETY: a plain allocation.
    let nothing = unsafe { dlmalloc(16) };
    assert!(nothing.is_null(), "no memory before a region");

    let region = 512 << 10;
    let (a, a_len) = ram(region);
    let (b, b_len) = ram(region);
    // SAFETY: both blocks are leaked and used by nothing else.
    let (added_a, added_b) = unsafe { (add_region(a, a_len), add_region(b, b_len)) };
    // Unaligned by 8 bytes: the partial first and last pages are cut.
    assert_eq!(added_a, region - PAGE_SIZE);
    assert_eq!(added_b, region - PAGE_SIZE);
    // Overlaps are refused.
    // SAFETY: refused without touching the memory.
    assert_eq!(unsafe { add_region(a.add(PAGE_SIZE), PAGE_SIZE) }, 0);
    let stats = arena_stats();
    assert_eq!(stats.regions, 2);
    assert_eq!(stats.total_bytes, added_a + added_b);

    // 200 KiB blocks are below the mmap threshold: they come from heap
    // segments, which grow region by region until both are full.
    let in_region = |p: *mut c_void, start: *mut u8, len: usize| {
        (start as usize..start as usize + len).contains(&(p as usize))
    };
    let mut blocks = Vec::new();
    loop {
        // SAFETY: a plain allocation.
        let p = unsafe { dlmalloc(200 << 10) };
        if p.is_null() {
            break;
        }
        // SAFETY: a live 200 KiB block.
        unsafe { p.cast::<u8>().write_bytes(blocks.len() as u8, 200 << 10) };
        blocks.push(p);
    }
    let in_a = blocks.iter().filter(|&&p| in_region(p, a, a_len)).count();
    let in_b = blocks.iter().filter(|&&p| in_region(p, b, b_len)).count();
    println!(
        "{} blocks of 200 KiB: {in_a} in region A, {in_b} in region B",
        blocks.len()
    );
    assert_eq!(in_a + in_b, blocks.len());
    assert!(in_a >= 2 && in_b >= 2, "the heap did not use both regions");
    DLMalloc.heap_check().unwrap();

    // Small blocks still fit in what is left of both.
    // SAFETY: plain allocations, freed below.
    let small: Vec<_> = (0..50).map(|_| unsafe { dlmalloc(100) }).collect();
    assert!(small.iter().all(|p| !p.is_null()));

    for (i, p) in blocks.into_iter().enumerate() {
        // SAFETY: each block is live, holds its pattern, and is freed once.
        unsafe {
            assert_eq!(p.cast::<u8>().add((200 << 10) - 1).read(), i as u8);
            dlfree(p);
        }
    }
    for p in small {
        // SAFETY: allocated above, freed once.
        unsafe { dlfree(p) };
    }
    DLMalloc.heap_check().unwrap();

    // A third region, added while the heap is in use, serves a block larger
    // than either of the first two.
    let (c, c_len) = ram(1 << 20);
    // SAFETY: leaked and used by nothing else.
    assert_eq!(unsafe { add_region(c, c_len) }, (1 << 20) - PAGE_SIZE);
    assert_eq!(arena_stats().regions, 3);
    // SAFETY: a plain allocation (a direct mapping), freed at once.
    unsafe {
        let big = dlmalloc(900 << 10);
        assert!(in_region(big, c, c_len), "the 900 KiB block is in region C");
        dlfree(big);
    }
    DLMalloc.heap_check().unwrap();
}
