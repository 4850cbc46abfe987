//! Per-thread heaps behind the caches ("arenas"): a cache miss is served by
//! the thread's own locked mspace instead of the one global heap, so
//! threads do not queue on one lock.
//!
//! - **Bounded.** Four arenas per core (at most [`MAX_ARENAS`]); a thread
//!   takes the arena fewest threads use when it registers its cache, and
//!   lets go of it when it exits, so a later thread reuses it. Arenas are
//!   never destroyed: blocks outlive the thread that allocated them.
//! - **Owner in O(1).** All arenas live in one reservation of address space
//!   (one `custom_mmap` call on Linux, so the platform supplies it; on
//!   Windows reserved directly, uncommitted, see [`os::reserve`]),
//!   [`REGION`] bytes each ([`region`](super::region) hands out their
//!   pages), so a block's arena is its offset in the reservation divided by
//!   the region size: one subtraction and one comparison, with no header to
//!   read and no per-block overhead. Addresses outside are the global heap's.
//! - **Frees from other threads** go onto the arena's
//!   [`RemoteFrees`](super::remote::RemoteFrees) list, unless no thread uses
//!   the arena, in which case the freeing thread frees them under its lock.
//!   A thread of the arena takes the list on a cache miss and keeps what
//!   its cache can hold (see `thread_cache::reuse_queued`).
//! - **Memory goes back.** An arena is an ordinary mspace: it trims its top
//!   and releases free segments as any heap does, through its region.
//! - **One heap for the C API.** The arenas are attached to the core's
//!   global heap (`dlmalloc_attach_heaps`): `dlfree` and `dlrealloc` give
//!   an arena's block to its arena, and the global statistics, trim, heap
//!   check, inspection and footprint limit cover the arenas too.
//! - **What is served here**: the blocks the cache serves (up to 32 KiB),
//!   and above them requests up to 128 KiB, all with at most the default
//!   alignment. Larger or more aligned blocks, and every block when an
//!   arena cannot grow (its region is full, or the footprint limit is
//!   reached), come from the global heap.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use super::os;
use super::region::{self, Region};
use super::remote::{self, RemoteFrees};
use crate::heap::MspaceHandle;

/// Arenas at most; the number used is four per core within this bound.
#[cfg(target_pointer_width = "64")]
const MAX_ARENAS: usize = 32;
#[cfg(not(target_pointer_width = "64"))]
const MAX_ARENAS: usize = 8;

/// Address space per arena: 256 MiB on 64-bit targets (mapped but
/// untouched until used), 16 MiB on 32-bit ones, where address space is
/// scarce. An arena that fills its region leaves further blocks to the
/// global heap.
#[cfg(target_pointer_width = "64")]
const REGION_SHIFT: u32 = 28;
#[cfg(not(target_pointer_width = "64"))]
const REGION_SHIFT: u32 = 24;
const REGION: usize = 1 << REGION_SHIFT;

/// Blocks freed in one locked call when a remote list is drained.
const DRAIN_BATCH: usize = 64;

/// One arena (its heap is in [`HEAPS`]).
pub(super) struct Arena {
    /// Blocks freed by threads that do not use this arena.
    remote: RemoteFrees,
    /// Threads using the arena (changed under the registry lock).
    users: AtomicUsize,
    /// The page source's state; only the mspace calls it, under its lock.
    region: UnsafeCell<Region>,
}

// SAFETY: `region` is only touched by the mspace's page source, which the
// core calls with the mspace's lock held (or while creating it, under the
// registry lock); everything else is atomic.
unsafe impl Sync for Arena {}

static ARENAS: [Arena; MAX_ARENAS] = [const {
    Arena {
        remote: RemoteFrees::new(),
        users: AtomicUsize::new(0),
        region: UnsafeCell::new(Region::EMPTY),
    }
}; MAX_ARENAS];

/// Each arena's mspace (locked), null until the first thread takes the
/// arena. The core reads this array too (`dlmalloc_attach_heaps`), so
/// that `dlfree` and the global statistics know the arenas.
static HEAPS: [AtomicPtr<c_void>; MAX_ARENAS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_ARENAS];

/// Start of the reservation (0 before it exists).
static BASE: AtomicUsize = AtomicUsize::new(0);
/// Arenas in the reservation (0 before it exists, or if it failed).
static COUNT: AtomicUsize = AtomicUsize::new(0);
/// Whether the reservation was tried.
static RESERVED: AtomicBool = AtomicBool::new(false);

/// The arena that owns `block`, if an arena does.
#[inline]
pub(super) fn owner_of(block: *const u8) -> Option<usize> {
    let index = block.addr().wrapping_sub(BASE.load(Ordering::Relaxed)) >> REGION_SHIFT;
    (index < COUNT.load(Ordering::Relaxed)).then_some(index)
}

/// The heap of arena `index`, which a thread has taken or which holds a
/// block (so it exists: only a pointer this allocator never returned can
/// lie in the region of an arena without a heap).
#[inline]
fn heap(index: usize) -> MspaceHandle {
    let Some(msp) = NonNull::new(HEAPS[index].load(Ordering::Acquire)) else {
        super::abort(
            c"thread cache: a freed pointer lies in an arena that holds no block (a pointer this allocator never returned)",
        );
    };
    // SAFETY: an arena's mspace is created before any thread uses it or any
    // block of it exists, is locked, and is never destroyed.
    unsafe { MspaceHandle::new(msp) }
}

/// Takes an arena for a thread: the one fewest threads use (creating its
/// heap on first use). `None` if arenas cannot be had.
///
/// # Safety
///
/// The registry lock is held (it orders every change of `users`).
pub(super) unsafe fn take() -> Option<usize> {
    reserve_once();
    let count = COUNT.load(Ordering::Relaxed);
    let index = (0..count).min_by_key(|&i| ARENAS[i].users.load(Ordering::Relaxed))?;
    let arena = &ARENAS[index];
    if HEAPS[index].load(Ordering::Relaxed).is_null() {
        let start = BASE.load(Ordering::Relaxed) + index * REGION;
        let region = arena.region.get();
        // SAFETY: no heap uses the region yet, and the registry lock keeps
        // other threads from creating it at the same time.
        unsafe { region.write(Region::new(start, start + REGION)) };
        // SAFETY: the source functions accept the region as context; the
        // region lives in a static.
        let msp = unsafe {
            dlmalloc_sys::create_mspace_with_source(
                0,
                1,
                Some(region::map),
                Some(region::unmap),
                region.cast(),
            )
        };
        if msp.is_null() {
            // No new heap now (the footprint limit, say): share the least
            // used of those that exist, if any.
            let existing = (0..count)
                .filter(|&i| !HEAPS[i].load(Ordering::Relaxed).is_null())
                .min_by_key(|&i| ARENAS[i].users.load(Ordering::Relaxed))?;
            ARENAS[existing].users.fetch_add(1, Ordering::Relaxed);
            return Some(existing);
        }
        HEAPS[index].store(msp, Ordering::Release);
    }
    arena.users.fetch_add(1, Ordering::Relaxed);
    Some(index)
}

/// Lets go of an arena [`take`] gave.
///
/// # Safety
///
/// The registry lock is held, and the caller took `index` and uses it no
/// more.
pub(super) unsafe fn release(index: usize) {
    ARENAS[index].users.fetch_sub(1, Ordering::Relaxed);
}

/// Whether the arenas' address space is reserved (so a thread without an
/// arena may still get one).
pub(super) fn reserved() -> bool {
    COUNT.load(Ordering::Relaxed) != 0
}

/// Reserves the address space of all arenas, once (registry lock held).
fn reserve_once() {
    if RESERVED.swap(true, Ordering::Relaxed) {
        return;
    }
    let count = os::cpu_count().saturating_mul(4).clamp(4, MAX_ARENAS);
    // `None` if the system or the platform refuses (a platform with a fixed
    // pool, say: its pages then all go to the global heap).
    let Some(base) = os::reserve(count * REGION) else {
        return;
    };
    // SAFETY: the range is reserved for the arenas, the array is a static
    // of pointer-sized atomics (the layout of `void *`), and heaps are
    // published into it with release stores.
    let attached = unsafe {
        dlmalloc_sys::dlmalloc_attach_heaps(
            base as *mut c_void,
            count,
            REGION_SHIFT,
            HEAPS.as_ptr().cast::<*mut c_void>(),
        )
    };
    if attached == 0 {
        BASE.store(base, Ordering::Relaxed);
        COUNT.store(count, Ordering::Release);
    }
}

/// Up to `out.len()` blocks of `request` bytes from arena `index` under one
/// lock acquisition, after freeing what other threads queued for it.
/// Returns how many; 0 when the arena cannot grow.
pub(super) fn bulk_malloc(
    index: usize,
    request: usize,
    out: &mut [*mut u8],
    secret: usize,
) -> usize {
    if !ARENAS[index].remote.is_empty() {
        drain_remote(index, secret);
    }
    // SAFETY: the heap is live; `out` has room for `out.len()` pointers.
    unsafe {
        dlmalloc_sys::mspace_bulk_malloc(
            heap(index).as_ptr(),
            request,
            out.as_mut_ptr().cast::<*mut c_void>(),
            out.len(),
        )
    }
}

/// One block of `request` bytes from arena `index`, after freeing what
/// other threads queued for it; null when the arena cannot grow.
pub(super) fn malloc(index: usize, request: usize, secret: usize) -> *mut u8 {
    if !ARENAS[index].remote.is_empty() {
        drain_remote(index, secret);
    }
    // SAFETY: the heap is live.
    unsafe { dlmalloc_sys::mspace_malloc(heap(index).as_ptr(), request) }.cast()
}

/// Frees blocks given up by a cache or a program, each to its own heap:
/// the global heap's in one locked call, each arena's in one locked call
/// (the caller's own arena `mine`, or one no thread uses) or onto its
/// remote list with one compare-and-swap. Reorders `blocks`.
///
/// # Safety
///
/// Every entry is a live block of the global heap or of an arena, given up
/// by the caller, with a defined second word.
pub(super) unsafe fn free_blocks(
    mut blocks: &mut [*mut u8],
    mine: Option<usize>,
    secret: usize,
) -> Result<(), super::bins::Corruption> {
    while let Some(&first) = blocks.first() {
        let owner = owner_of(first);
        // Gathers the blocks with the first one's owner at the front.
        let mut same = 0;
        for at in 0..blocks.len() {
            if owner_of(blocks[at]) == owner {
                blocks.swap(same, at);
                same += 1;
            }
        }
        let (batch, rest) = blocks.split_at_mut(same);
        // SAFETY: the caller's contract; the batch has one owner.
        unsafe { free_batch(batch, owner, mine, secret)? };
        blocks = rest;
    }
    Ok(())
}

/// [`free_blocks`] for blocks of one owner.
///
/// # Safety
///
/// As for [`free_blocks`], and every block belongs to `owner`.
unsafe fn free_batch(
    batch: &mut [*mut u8],
    owner: Option<usize>,
    mine: Option<usize>,
    secret: usize,
) -> Result<(), super::bins::Corruption> {
    let blocks = batch.as_mut_ptr().cast::<*mut c_void>();
    match owner {
        // SAFETY: blocks of the global heap given up (contract).
        None => unsafe { dlmalloc_sys::dlbulk_free(blocks, batch.len()) },
        Some(index) if Some(index) == mine || ARENAS[index].users.load(Ordering::Relaxed) == 0 => {
            // SAFETY: blocks of this arena's live heap, given up (contract).
            unsafe { dlmalloc_sys::mspace_bulk_free(heap(index).as_ptr(), blocks, batch.len()) }
        }
        // SAFETY: as above.
        Some(index) => return unsafe { ARENAS[index].remote.push(batch, secret) },
    };
    Ok(())
}

/// Frees what other threads queued for arena `index`, under its lock.
pub(super) fn drain_remote(index: usize, secret: usize) {
    free_queued(index, take_remote(index), secret);
}

/// Frees what other threads queued for arena `index`, as [`drain_remote`]
/// does; returns whether `sought` was among those blocks.
pub(super) fn drain_remote_finding(index: usize, sought: *mut u8, secret: usize) -> bool {
    free_queued_finding(index, take_remote(index), secret, sought)
}

/// Takes the list of blocks other threads queued for arena `index`: its
/// first block, or null (see [`RemoteFrees::take`]).
#[inline]
pub(super) fn take_remote(index: usize) -> *mut u8 {
    ARENAS[index].remote.take()
}

/// Whether `block` may be on arena `index`'s remote list: a block address
/// in its region.
#[inline]
pub(super) fn may_queue_for(index: usize, block: *mut u8) -> bool {
    owner_of(block) == Some(index) && block.addr() % dlmalloc_sys::MALLOC_ALIGNMENT == 0
}

/// Frees a list of blocks queued for arena `index` (from [`take_remote`],
/// or what the cache did not keep of one) under the arena's lock, in
/// batches.
pub(super) fn free_queued(index: usize, first: *mut u8, secret: usize) {
    free_queued_finding(index, first, secret, ptr::null_mut());
}

/// [`free_queued`], which also tells whether `sought` (not null) was on
/// the list.
fn free_queued_finding(index: usize, first: *mut u8, secret: usize, sought: *mut u8) -> bool {
    if first.is_null() {
        return false;
    }
    let mut found = false;
    let msp = heap(index).as_ptr();
    let mut batch = [ptr::null_mut::<u8>(); DRAIN_BATCH];
    let mut filled = 0;
    let flush = |batch: &mut [*mut u8; DRAIN_BATCH], filled: &mut usize| {
        // SAFETY: queued blocks of this arena, given up by their freers.
        unsafe {
            dlmalloc_sys::mspace_bulk_free(msp, batch.as_mut_ptr().cast::<*mut c_void>(), *filled)
        };
        *filled = 0;
    };
    // SAFETY: the list was taken from the arena's remote list, onto which
    // only blocks of this arena are pushed.
    let drained = unsafe {
        remote::walk(
            first,
            secret,
            |block| may_queue_for(index, block),
            |block| {
                found |= block == sought;
                batch[filled] = block;
                filled += 1;
                if filled == DRAIN_BATCH {
                    flush(&mut batch, &mut filled);
                }
            },
        )
    };
    flush(&mut batch, &mut filled);
    if let Err(corruption) = drained {
        super::report(corruption);
    }
    found
}

/// Calls `f` with the heap of every arena that has one.
pub(super) fn for_each_heap(mut f: impl FnMut(usize, MspaceHandle)) {
    let count = COUNT.load(Ordering::Acquire);
    for (index, msp) in HEAPS.iter().enumerate().take(count) {
        if !msp.load(Ordering::Acquire).is_null() {
            f(index, heap(index));
        }
    }
}
