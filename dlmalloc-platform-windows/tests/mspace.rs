//! Independent heaps (mspaces) over the Windows platform: each grows with
//! reservations of its own, and destroying one releases every one of them,
//! so the platform's bookkeeping and the address space are as before.

use dlmalloc::raw::{
    create_mspace, destroy_mspace, mspace_calloc, mspace_check, mspace_footprint, mspace_free,
    mspace_malloc, mspace_memalign, mspace_realloc,
};
use dlmalloc_platform_windows::memory_stats;

mod common;

use common::{Rng, check, fill, query};
use windows_sys::Win32::System::Memory::MEM_FREE;

#[test]
fn destroying_mspaces_releases_their_reservations() {
    let before = memory_stats();
    let mut rng = Rng::new(42);
    // SAFETY: plain calls into the C API on heaps this test owns; blocks
    // are used within their sizes and each heap is destroyed once, after
    // which nothing of it is used.
    unsafe {
        let heaps: Vec<_> = (0..4).map(|i| create_mspace(0, i % 2)).collect();
        assert!(heaps.iter().all(|h| !h.is_null()));
        let mut blocks = Vec::new();
        for n in 0..3000 {
            let heap = heaps[n % heaps.len()];
            let size = match rng.below(10) {
                0 => 300_000 + rng.below(200_000), // a mapping of its own
                1..=3 => 1000 + rng.below(30_000),
                _ => 1 + rng.below(500),
            };
            let ptr = match rng.below(4) {
                0 => mspace_calloc(heap, 1, size).cast::<u8>(),
                1 => mspace_memalign(heap, 4096, size).cast::<u8>(),
                _ => mspace_malloc(heap, size).cast::<u8>(),
            };
            assert!(!ptr.is_null());
            fill(ptr, size.min(4096), n);
            blocks.push((heap, ptr, size, n));
            if rng.below(3) == 0 {
                let (heap, ptr, size, seed) = blocks.swap_remove(rng.below(blocks.len()));
                check(ptr, size.min(4096), seed);
                if rng.below(2) == 0 {
                    mspace_free(heap, ptr.cast());
                } else {
                    let grown = mspace_realloc(heap, ptr.cast(), size * 2).cast::<u8>();
                    assert!(!grown.is_null());
                    check(grown, size.min(4096), seed);
                    blocks.push((heap, grown, size, seed));
                }
            }
        }
        for &heap in &heaps {
            assert_eq!(mspace_check(heap, None, core::ptr::null_mut()), 0);
        }
        let during = memory_stats();
        let footprints: usize = heaps.iter().map(|&h| mspace_footprint(h)).sum();
        assert_eq!(during.committed_bytes - before.committed_bytes, footprints);
        assert!(during.reservations > before.reservations + heaps.len());
        let first = heaps[0] as usize;
        let released: usize = heaps.iter().map(|&h| destroy_mspace(h)).sum();
        assert_eq!(released, footprints);
        assert_eq!(query(first).State, MEM_FREE);
    }
    let after = memory_stats();
    assert_eq!(after.committed_bytes, before.committed_bytes);
    assert_eq!(after.reserved_bytes, before.reserved_bytes);
    assert_eq!(after.reservations, before.reservations);
}
