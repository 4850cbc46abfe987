//! A program that frees everything gets its memory back to the system,
//! without calling trim: the global heap through the thread cache (whose
//! last blocks, scattered over the heap, would otherwise pin segments), and
//! an mspace (whose first segment holds its state, so memory mapped just
//! below it must not be merged into that segment).

use core::alloc::{GlobalAlloc, Layout};

use dlmalloc::{DLMalloc, Mspace};
use dlmalloc_platform_std as _;
use dlmalloc_test_support::Rng;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

const LIVE: usize = 50_000;
/// What a heap may keep once everything is freed: the free top of its
/// newest segment up to the trim threshold (2 MiB), in a segment of up to
/// two 2 MiB granules.
const KEPT: usize = 4 << 20;

/// Allocates `LIVE` blocks of 16 to 1000 bytes, replaces random ones
/// 200,000 times, then frees all of them; returns the footprint at its
/// peak and after the frees, read through `footprint`.
fn churn_then_free_all(alloc: &dyn GlobalAlloc, footprint: &dyn Fn() -> usize) -> (usize, usize) {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let layout_of = |r: usize| Layout::from_size_align(16 + r, 8).unwrap();
    let mut blocks: Vec<(*mut u8, Layout)> = Vec::with_capacity(LIVE);
    for _ in 0..LIVE {
        let layout = layout_of(rng.below(985));
        // SAFETY: non-zero size.
        let block = unsafe { alloc.alloc(layout) };
        assert!(!block.is_null());
        blocks.push((block, layout));
    }
    for _ in 0..200_000 {
        let i = rng.below(LIVE);
        let layout = layout_of(rng.below(985));
        // SAFETY: each slot holds a live block of this allocator with its layout.
        unsafe {
            alloc.dealloc(blocks[i].0, blocks[i].1);
            let block = alloc.alloc(layout);
            assert!(!block.is_null());
            blocks[i] = (block, layout);
        }
    }
    let peak = footprint();
    for (block, layout) in blocks {
        // SAFETY: as above; each block is freed once.
        unsafe { alloc.dealloc(block, layout) };
    }
    (peak, footprint())
}

/// A test without the harness (`harness = false` in Cargo.toml): the
/// harness's own thread allocates from the global heap while a test runs
/// (when the machine is loaded it is still setting up as the workload
/// starts), and one of its blocks in the middle of the heap keeps every
/// segment below the top from being given back, which is what this test
/// measures. Here the workloads run on the only thread, one after the
/// other (the mspace workload keeps its table of blocks in the global heap).
fn main() {
    the_global_heap_gives_everything_back();
    an_mspace_gives_everything_back();
    println!("release_after_free_all: ok");
}

fn the_global_heap_gives_everything_back() {
    // SAFETY: reads one counter of the global heap (no flush: the point is
    // that the heap gave the memory back by itself).
    let footprint = || unsafe { dlmalloc::raw::dlmalloc_footprint() };
    let (peak, after) = churn_then_free_all(&DLMalloc, &footprint);
    assert!(peak > 20 << 20, "the workload peaked at only {peak} bytes");
    assert!(
        after <= KEPT,
        "{after} of {peak} bytes kept after freeing everything"
    );
}

fn an_mspace_gives_everything_back() {
    let heap = Mspace::new_locked(0);
    let adapter = LockedMspace(&heap);
    let (peak, after) = churn_then_free_all(&adapter, &|| heap.stats().footprint);
    assert!(peak > 20 << 20, "the workload peaked at only {peak} bytes");
    assert!(
        after <= KEPT,
        "{after} of {peak} bytes kept after freeing everything"
    );
}

/// A locked `Mspace` seen as a `GlobalAlloc`, for the shared workload.
struct LockedMspace<'a>(&'a Mspace<dlmalloc::Locked>);

// SAFETY: forwards to the mspace's allocator-api2 implementation, which
// returns blocks of at least the layout's size and alignment or null.
unsafe impl GlobalAlloc for LockedMspace<'_> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        use allocator_api2::alloc::Allocator;
        self.0
            .allocate(layout)
            .map_or(core::ptr::null_mut(), |block| block.cast::<u8>().as_ptr())
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        use allocator_api2::alloc::Allocator;
        // SAFETY: `ptr` came from `alloc` above with `layout` (caller's contract).
        unsafe {
            self.0
                .deallocate(core::ptr::NonNull::new_unchecked(ptr), layout)
        }
    }
}
