//! destroy_mspace gives back everything the heap mapped, and only that: the
//! byte count it returns equals what the platform mapped for the heap
//! (segments, grown segments and directly mapped chunks), and the
//! platform's `mapped_bytes()` returns exactly to its level before the
//! heap was created. Checked for one well-filled heap and for several
//! heaps (a caller-memory one among them) destroyed in different orders.
//!
//! The tests hold the per-binary lock: `mapped_bytes()` is process-wide,
//! and nothing else in this binary uses the dl heaps (the harness runs on
//! the system allocator).

// Every unsafe block below is a call into the raw C API with handles and
// pointers this test got from the same API (or null); a SAFETY line on each
// would repeat that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;
use dlmalloc_platform_std::{map_count, mapped_bytes, unmap_count};

use core::ffi::c_void;

use dlmalloc_sys::*;
use dlmalloc_test_support::{Rng, assert_mspace_ok, serial};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// Requests per heap fill, divided by this under `debug-heap-walk`, where
/// every operation walks the whole heap.
const SLOWDOWN: usize = if cfg!(feature = "debug-heap-walk") {
    5
} else {
    1
};

/// Writes the first and last byte of a new block, so its pages are real.
fn touch(p: *mut c_void, size: usize) {
    assert!(!p.is_null(), "allocation of {size} bytes failed");
    unsafe {
        p.cast::<u8>().write(0xC3);
        p.cast::<u8>().add(size - 1).write(0x3C);
    }
}

/// A random request: mostly small, some medium (below the mmap threshold),
/// a few of 1 MiB and more (directly mapped).
fn random_size(rng: &mut Rng) -> usize {
    match rng.below(1000) {
        0..=939 => rng.range(16, 512),
        940..=994 => rng.range(100 * KIB, 250 * KIB),
        _ => rng.range(MIB, 3 * MIB),
    }
}

/// Allocates `ops` blocks in `msp`, frees about a third of them again and
/// resizes a few, leaving the rest live. Returns the number of requests of
/// 1 MiB or more.
fn fill(msp: Mspace, rng: &mut Rng, ops: usize) -> usize {
    let mut live: Vec<(*mut c_void, usize)> = Vec::new();
    let mut large = 0;
    for _ in 0..ops {
        let size = random_size(rng);
        large += usize::from(size >= MIB);
        let p = unsafe { mspace_malloc(msp, size) };
        touch(p, size);
        live.push((p, size));
        if rng.chance(33) {
            let (p, _) = live.swap_remove(rng.below(live.len()));
            unsafe { mspace_free(msp, p) };
        } else if rng.chance(3) {
            let i = rng.below(live.len());
            let size = random_size(rng);
            large += usize::from(size >= MIB);
            let q = unsafe { mspace_realloc(msp, live[i].0, size) };
            touch(q, size);
            live[i] = (q, size);
        }
    }
    large
}

#[test]
fn destroy_returns_every_mapped_byte() {
    let _serial = serial();
    for locked in [0, 1] {
        let before = mapped_bytes();
        let maps_before = map_count();
        let unmaps_before = unmap_count();
        let msp = unsafe { create_mspace(0, locked) };
        assert!(!msp.is_null());
        let initial = unsafe { mspace_footprint(msp) };
        let large = fill(
            msp,
            &mut Rng::new(0xDE57_0000 + locked as u64),
            30_000 / SLOWDOWN,
        );
        unsafe { assert_mspace_ok(msp, "after filling") };

        let mi = unsafe { mspace_mallinfo(msp) };
        let footprint = unsafe { mspace_footprint(msp) };
        let mapped = mapped_bytes() - before;
        let maps = map_count() - maps_before;
        assert!(large >= 5, "only {large} large requests");
        assert!(
            mi.hblks >= 2,
            "only {} directly mapped chunks: {mi:?}",
            mi.hblks
        );
        assert!(
            mi.arena >= 4 * initial,
            "the segments did not grow well past the first: {mi:?}"
        );
        assert!(
            maps >= large + 4,
            "{maps} mappings for {large} large requests: too few to have added segments"
        );
        assert_eq!(mapped, footprint, "mapped bytes differ from the footprint");

        let released = unsafe { destroy_mspace(msp) };
        assert_eq!(
            released, mapped,
            "destroy_mspace(create_mspace(0, {locked})) returned {released}, the heap had \
             {mapped} bytes mapped"
        );
        assert_eq!(
            mapped_bytes(),
            before,
            "mapped bytes after destroy_mspace (locked {locked})"
        );
        assert!(unmap_count() > unmaps_before, "nothing was unmapped");
    }
}

/// One heap of a group: its handle and, for a caller-memory heap, the
/// region it runs in (which destroy_mspace must not release).
struct Heap {
    msp: Mspace,
    region: Option<Vec<u8>>,
    region_bytes: usize,
}

impl Heap {
    /// Bytes the platform has mapped for this heap right now.
    fn mapped(&self) -> usize {
        let footprint = unsafe { mspace_footprint(self.msp) };
        footprint - self.region_bytes
    }
}

fn new_heap(kind: usize) -> Heap {
    let (msp, region) = match kind {
        0 => (unsafe { create_mspace(0, 0) }, None),
        1 => (unsafe { create_mspace(0, 1) }, None),
        2 => (unsafe { create_mspace(5 * MIB, 0) }, None),
        _ => {
            let mut region = vec![0u8; MIB];
            let base = region.as_mut_ptr().cast::<c_void>();
            (
                unsafe { create_mspace_with_base(base, region.len(), 1) },
                Some(region),
            )
        }
    };
    assert!(!msp.is_null(), "heap kind {kind}: creation failed");
    // A caller-memory heap's footprint starts with its region, which is not
    // mapped; a mapped heap's starts with its first mapping.
    let region_bytes = if region.is_some() {
        unsafe { mspace_footprint(msp) }
    } else {
        0
    };
    Heap {
        msp,
        region,
        region_bytes,
    }
}

#[test]
fn several_heaps_destroyed_in_any_order() {
    let _serial = serial();
    let orders: [[usize; 4]; 4] = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]];
    let mut rng = Rng::new(0x0DE5_7A0D);
    for order in orders {
        let before = mapped_bytes();
        let heaps: Vec<Heap> = (0..4).map(new_heap).collect();
        // Interleaved use: the heaps' mappings end up mixed in the address
        // space.
        for round in 0..6 {
            for (kind, heap) in heaps.iter().enumerate() {
                fill(heap.msp, &mut rng, (1500 + 500 * kind + round) / SLOWDOWN);
            }
        }
        let mut expected: Vec<usize> = heaps.iter().map(Heap::mapped).collect();
        assert_eq!(
            expected.iter().sum::<usize>(),
            mapped_bytes() - before,
            "order {order:?}: the heaps' footprints do not add up to the mapped bytes"
        );
        assert!(
            heaps[3].mapped() > 0,
            "order {order:?}: the caller-memory heap never grew"
        );
        let mut heaps: Vec<Option<Heap>> = heaps.into_iter().map(Some).collect();
        for &kind in &order {
            let heap = heaps[kind].take().expect("destroyed once");
            unsafe { assert_mspace_ok(heap.msp, &format!("heap {kind} before destroy")) };
            let level = mapped_bytes();
            let released = unsafe { destroy_mspace(heap.msp) };
            assert_eq!(
                released, expected[kind],
                "order {order:?}: destroy_mspace of heap {kind} returned {released}"
            );
            assert_eq!(
                level - mapped_bytes(),
                expected[kind],
                "order {order:?}: destroying heap {kind} unmapped a different amount"
            );
            expected[kind] = 0;
            if let Some(mut region) = heap.region {
                // The caller's region survives its heap.
                region.fill(0x77);
                assert!(region.iter().all(|&b| b == 0x77));
            }
        }
        assert_eq!(
            mapped_bytes(),
            before,
            "order {order:?}: mapped bytes after destroying every heap"
        );
    }
}

#[test]
fn an_unused_heap_releases_exactly_its_first_mapping() {
    let _serial = serial();
    for capacity in [0, 1, 100 * KIB, 16 * MIB] {
        for locked in [0, 1] {
            let before = mapped_bytes();
            let msp = unsafe { create_mspace(capacity, locked) };
            assert!(!msp.is_null());
            let mapped = mapped_bytes() - before;
            assert!(
                mapped >= capacity,
                "create_mspace({capacity}) mapped {mapped}"
            );
            assert_eq!(unsafe { destroy_mspace(msp) }, mapped);
            assert_eq!(
                mapped_bytes(),
                before,
                "create_mspace({capacity}, {locked})"
            );
        }
    }
}
