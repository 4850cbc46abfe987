//! A 4 MiB static arena: a 3 MiB block (a direct mapping, above the core's
//! mmap threshold) succeeds, and its pages return to the arena when freed.

use dlmalloc::DLMalloc;
use dlmalloc_platform_baremetal::{PAGE_SIZE, arena_stats};
use dlmalloc_sys::{dlfree, dlmalloc, dlmalloc_footprint};

const ARENA: usize = 4 << 20;
dlmalloc_platform_baremetal::static_arena!(ARENA);

#[test]
fn a_3_mib_block_fits_and_comes_back() {
    let size = 3 << 20;
    // The largest block a fresh arena can hold (each try is a direct mapping,
    // freed at once, so the arena is fresh again afterwards).
    let (mut fits, mut fails) = (0, ARENA);
    while fits + 1 < fails {
        let mid = (fits + fails) / 2;
        // SAFETY: a plain allocation, freed at once.
        let q = unsafe { dlmalloc(mid) };
        if q.is_null() {
            fails = mid;
        } else {
            // SAFETY: `q` is live; freed once.
            unsafe { dlfree(q) };
            fits = mid;
        }
    }
    println!(
        "largest block in a fresh 4 MiB arena: {fits} bytes ({:.2}%)",
        100.0 * fits as f64 / ARENA as f64
    );
    assert!(fits > size);
    assert_eq!(
        arena_stats().free_bytes,
        ARENA,
        "every try gave its pages back"
    );

    // SAFETY: a plain allocation.
    let p = unsafe { dlmalloc(size) };
    assert!(!p.is_null(), "a 3 MiB block in a 4 MiB arena failed");
    // SAFETY: `p` is a live block of `size` bytes.
    unsafe { p.cast::<u8>().write_bytes(0x77, size) };
    let stats = arena_stats();
    assert_eq!(stats.total_bytes, ARENA);
    // A direct mapping: the block plus its header, in whole pages.
    assert!(stats.total_bytes - stats.free_bytes <= size + PAGE_SIZE);
    // SAFETY: nothing else uses the hooks in this binary.
    assert_eq!(stats.total_bytes - stats.free_bytes, unsafe {
        dlmalloc_footprint()
    });

    // Small blocks still fit beside it.
    // SAFETY: plain allocations, freed below.
    let small: Vec<_> = (0..100).map(|_| unsafe { dlmalloc(1000) }).collect();
    assert!(small.iter().all(|p| !p.is_null()));
    // SAFETY: each block was allocated above and is freed once.
    unsafe {
        for q in small {
            dlfree(q);
        }
    }
    let before = arena_stats();
    // SAFETY: allocated above, freed once.
    unsafe {
        assert_eq!(p.cast::<u8>().add(size - 1).read(), 0x77);
        dlfree(p);
    }
    DLMalloc.heap_check().unwrap();
    let after = arena_stats();
    let returned = after.free_bytes - before.free_bytes;
    assert!(
        (size..=size + PAGE_SIZE).contains(&returned),
        "freeing the block gave {returned} bytes back: {before:?} -> {after:?}"
    );
}
