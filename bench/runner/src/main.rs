//! The benchmark binary for every allocator that can share one process:
//! this project's three front ends and the peers. See bench/README.md.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::RefCell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};

use allocator_api2::alloc::Allocator;
use bench_harness::arena::{ArenaContender, Region};
use bench_harness::runner::{self, Contender};
use dlmalloc::{Growth, Locking, Mspace};
use dlmalloc_platform_std as _;

/// The region each region-based heap (our `Mspace` and the peers that take
/// a region) gets for the whole run: many times what the largest workload
/// keeps live (the 100k-block churns peak near 60 MiB asked, twice that
/// once buddy rounds it up; the doubling vector needs 12 MiB), with room
/// for the blocks that a too-slow drain leaks, so no workload fails for
/// want of memory. Mapped lazily, so untouched pages
/// cost nothing.
const PEER_REGION: usize = 1 << 30;

/// An owned [`Mspace`] as a `GlobalAlloc`, through its `Allocator`
/// implementation.
struct MspaceGlobal<L: Locking>(Mspace<L>);

// SAFETY: every method forwards to the mspace's `Allocator` implementation,
// which upholds the same contract (aligned, non-overlapping blocks that stay
// valid until freed); failure is reported as null as GlobalAlloc expects.
unsafe impl<L: Locking> GlobalAlloc for MspaceGlobal<L> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        (&self.0)
            .allocate(layout)
            .map_or(ptr::null_mut(), |block| block.as_ptr().cast())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: GlobalAlloc's caller passes a live block of this heap
        // with its layout, which is deallocate's contract.
        unsafe { (&self.0).deallocate(NonNull::new_unchecked(ptr), layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: GlobalAlloc's caller guarantees a live block with
        // `layout` and a new size that forms a valid layout with its
        // alignment; grow/shrink take exactly that.
        unsafe {
            let new = Layout::from_size_align_unchecked(new_size, layout.align());
            let block = NonNull::new_unchecked(ptr);
            let moved = if new_size >= layout.size() {
                (&self.0).grow(block, layout, new)
            } else {
                (&self.0).shrink(block, layout, new)
            };
            moved.map_or(ptr::null_mut(), |block| block.as_ptr().cast())
        }
    }
}

// The talc lock: parking_lot's, which parks under contention like the
// hosted locks of the other allocators here (talc's docs use a spin lock,
// which would starve on 2 cores with 4 threads).
type TalcRegion = talc::TalcLock<parking_lot::RawMutex, talc::source::Claim>;

/// rlsf's TLSF over a caller's region (first level up to 32 << 24 bytes).
type RegionTlsf = rlsf::Tlsf<'static, u32, u32, 24, 32>;

/// A TLSF pool as a single-threaded `GlobalAlloc` (the arena fill runs on
/// one thread).
struct TlsfArena(RefCell<RegionTlsf>);

// SAFETY: forwards to the TLSF pool, which hands out aligned,
// non-overlapping blocks of its region; null on failure.
unsafe impl GlobalAlloc for TlsfArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0
            .borrow_mut()
            .allocate(layout)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: a live block of this pool (GlobalAlloc's caller contract).
        unsafe {
            self.0
                .borrow_mut()
                .deallocate(NonNull::new_unchecked(ptr), layout.align())
        }
    }
}

/// dlmalloc-rs's system-allocator hook over one caller's region: the first
/// request that fits gets the whole region, every other request fails. So
/// dlmalloc-rs runs in the region alone, as a bare-metal heap would, with
/// no memory to fall back on.
struct RegionOnce {
    /// The region's first byte until it is handed out, then null.
    base: AtomicPtr<u8>,
    /// The region's size.
    len: usize,
}

impl RegionOnce {
    /// dlmalloc-rs's `EXTERN_BIT` flag: the segment was not allocated by
    /// the hook, so dlmalloc-rs must neither release it nor merge it.
    const EXTERN_BIT: u32 = 1;

    /// The refusal: a null base (dlmalloc-rs ignores the rest).
    const NONE: (*mut u8, usize, u32) = (ptr::null_mut(), 0, 0);
}

// SAFETY: `alloc` hands out the caller's region (valid and given to this
// heap alone, per ArenaContender::make) at most once, at its full size;
// nothing is ever moved or released (remap fails, free and free_part
// refuse), which the trait allows.
unsafe impl dlmalloc_rs::Allocator for RegionOnce {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        if size > self.len {
            return Self::NONE;
        }
        let base = self.base.swap(ptr::null_mut(), Ordering::Relaxed);
        if base.is_null() {
            Self::NONE
        } else {
            (base, self.len, Self::EXTERN_BIT)
        }
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        // The caller's region may hold anything.
        false
    }

    fn page_size(&self) -> usize {
        4096
    }
}

/// dlmalloc-rs over one region as a single-threaded `GlobalAlloc` (the
/// arena fill runs on one thread; it never reallocates, so the default
/// `realloc` is enough).
struct DlmallocRsArena(RefCell<dlmalloc_rs::Dlmalloc<RegionOnce>>);

// SAFETY: forwards to dlmalloc-rs, which hands out aligned, non-overlapping
// blocks of its region; null on failure.
unsafe impl GlobalAlloc for DlmallocRsArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: GlobalAlloc's contract is malloc's.
        unsafe { self.0.borrow_mut().malloc(layout.size(), layout.align()) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: a live block of this heap with the size and alignment it
        // was allocated with (GlobalAlloc's caller contract).
        unsafe { self.0.borrow_mut().free(ptr, layout.size(), layout.align()) }
    }
}

static OURS_GLOBAL: dlmalloc::DLMalloc = dlmalloc::DLMalloc;
static OURS_MSPACE_ALLOC: dlmalloc::MspaceAlloc = dlmalloc::MspaceAlloc::new(0);
static SYSTEM: std::alloc::System = std::alloc::System;
static DLMALLOC_RS: dlmalloc_rs::GlobalDlmalloc = dlmalloc_rs::GlobalDlmalloc;
static MIMALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
static JEMALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
static RLSF: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

/// Leaks `value`: contenders live as long as the process.
fn leak<T: GlobalAlloc + Sync + 'static>(value: T) -> &'static (dyn GlobalAlloc + Sync) {
    Box::leak(Box::new(value))
}

/// A fresh region of `PEER_REGION` bytes that lives for ever.
fn peer_region() -> (NonNull<u8>, usize) {
    Region::map(PEER_REGION).leak()
}

/// Every allocator of the timed and footprint workloads, in column order.
fn contenders() -> Vec<Contender> {
    // Ours as bare metal gets it: a locked heap over a region of its own
    // that never maps memory (large blocks come from the region's top), on
    // the same footing as the region-based peers below.
    let (base, len) = peer_region();
    // SAFETY: the region is fresh, ours alone, and lives for ever.
    let mspace = unsafe { Mspace::from_raw_region_locked(base, len, Growth::Fixed) }
        .expect("1 GiB holds an mspace");

    let talc_region = peer_region();
    // SAFETY: as above.
    let talc = leak(TalcRegion::new(unsafe {
        talc::source::Claim::new(talc_region.0.as_ptr(), talc_region.1)
    }));

    let linked_list = linked_list_allocator::LockedHeap::empty();
    let (base, len) = peer_region();
    // SAFETY: as above.
    unsafe { linked_list.lock().init(base.as_ptr(), len) };

    let buddy = buddy_system_allocator::LockedHeap::<33>::new();
    let (base, len) = peer_region();
    // SAFETY: as above.
    unsafe { buddy.lock().init(base.as_ptr() as usize, len) };

    let emb_tlsf = embedded_alloc::TlsfHeap::empty();
    let (base, len) = peer_region();
    // SAFETY: as above.
    unsafe { emb_tlsf.init(base.as_ptr() as usize, len) };

    let emb_llff = embedded_alloc::LlffHeap::empty();
    let (base, len) = peer_region();
    // SAFETY: as above.
    unsafe { emb_llff.init(base.as_ptr() as usize, len) };

    vec![
        Contender {
            name: "DLMalloc",
            alloc: &OURS_GLOBAL,
        },
        Contender {
            name: "MspaceAlloc",
            alloc: &OURS_MSPACE_ALLOC,
        },
        Contender {
            name: "Mspace",
            alloc: leak(MspaceGlobal(mspace)),
        },
        Contender {
            name: "System",
            alloc: &SYSTEM,
        },
        Contender {
            name: "dlmalloc-rs",
            alloc: &DLMALLOC_RS,
        },
        Contender {
            name: "mimalloc",
            alloc: &MIMALLOC,
        },
        Contender {
            name: "jemalloc",
            alloc: &JEMALLOC,
        },
        Contender {
            name: "talc",
            alloc: talc,
        },
        Contender {
            name: "rlsf",
            alloc: &RLSF,
        },
        Contender {
            name: "linked_list",
            alloc: leak(linked_list),
        },
        Contender {
            name: "buddy",
            alloc: leak(buddy),
        },
        Contender {
            name: "emb-tlsf",
            alloc: leak(emb_tlsf),
        },
        Contender {
            name: "emb-llff",
            alloc: leak(emb_llff),
        },
    ]
}

/// Every allocator that can be built over a caller's region, for the
/// fixed-arena fills.
fn arenas() -> Vec<ArenaContender> {
    vec![
        ArenaContender {
            name: "Mspace",
            make: |base, len| {
                // SAFETY: the arena fill hands over a fresh region that only
                // this heap uses until the heap is dropped.
                let heap = unsafe { Mspace::from_raw_region(base, len, Growth::Fixed) }
                    .expect("16 MiB hold an mspace");
                Box::new(MspaceGlobal(heap))
            },
        },
        ArenaContender {
            name: "talc",
            // SAFETY: as above.
            make: |base, len| {
                Box::new(TalcRegion::new(unsafe {
                    talc::source::Claim::new(base.as_ptr(), len)
                }))
            },
        },
        ArenaContender {
            name: "rlsf",
            make: |base, len| {
                let mut tlsf = RegionTlsf::new();
                // SAFETY: as above; the region outlives the pool.
                unsafe { tlsf.insert_free_block_ptr(NonNull::slice_from_raw_parts(base, len)) };
                Box::new(TlsfArena(RefCell::new(tlsf)))
            },
        },
        ArenaContender {
            name: "dlmalloc-rs",
            make: |base, len| {
                let source = RegionOnce {
                    base: AtomicPtr::new(base.as_ptr()),
                    len,
                };
                let heap = dlmalloc_rs::Dlmalloc::new_with_allocator(source);
                Box::new(DlmallocRsArena(RefCell::new(heap)))
            },
        },
        ArenaContender {
            name: "linked_list",
            make: |base, len| {
                let heap = linked_list_allocator::LockedHeap::empty();
                // SAFETY: as above.
                unsafe { heap.lock().init(base.as_ptr(), len) };
                Box::new(heap)
            },
        },
        ArenaContender {
            name: "buddy",
            make: |base, len| {
                let heap = buddy_system_allocator::LockedHeap::<33>::new();
                // SAFETY: as above.
                unsafe { heap.lock().init(base.as_ptr() as usize, len) };
                Box::new(heap)
            },
        },
        ArenaContender {
            name: "emb-tlsf",
            make: |base, len| {
                let heap = embedded_alloc::TlsfHeap::empty();
                // SAFETY: as above.
                unsafe { heap.init(base.as_ptr() as usize, len) };
                Box::new(heap)
            },
        },
        ArenaContender {
            name: "emb-llff",
            make: |base, len| {
                let heap = embedded_alloc::LlffHeap::empty();
                // SAFETY: as above.
                unsafe { heap.init(base.as_ptr() as usize, len) };
                Box::new(heap)
            },
        },
    ]
}

/// Runs the command line over this process's allocators.
fn main() {
    runner::main("main", &contenders(), &arenas());
}
