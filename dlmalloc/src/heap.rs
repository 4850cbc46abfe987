//! The one implementation of allocation, statistics, trimming, the footprint
//! limit and the heap check, shared by every public heap type.
//!
//! The core has two families of entry points with the same contracts: `dl*`
//! for the global heap and `mspace_*` for an mspace. [`RawHeap`] names one
//! heap through either family; its provided methods hold the logic that
//! [`DLMalloc`](crate::DLMalloc), [`MspaceAlloc`](crate::MspaceAlloc) and
//! [`Mspace`](crate::Mspace) all use.

use core::alloc::Layout;
use core::ffi::c_void;
use core::ptr::{self, NonNull};

use crate::check::{self, HeapCheckError};
use crate::raw::{self, MallInfo};
use crate::stats::{Stats, limit_from_raw};

/// One live heap of the C core, seen through its raw entry points.
///
/// The required methods are one FFI call each; the provided methods are the
/// shared logic.
///
/// # Safety
///
/// An implementor guarantees that the heap it names is live (created and not
/// destroyed) whenever a method is called, and that no two threads call into
/// it at once unless the heap is locked. Given that, calling the core is
/// sound, which is what makes the safe methods below safe. The required
/// methods must behave as the core routines they wrap: blocks aligned to
/// [`raw::MALLOC_ALIGNMENT`] (or to the `memalign` alignment), null on
/// failure, and a failed `realloc` leaves the old block untouched.
pub(crate) unsafe trait RawHeap: Copy {
    /// `malloc`: `size` bytes aligned to [`raw::MALLOC_ALIGNMENT`], or null.
    fn malloc(self, size: usize) -> *mut c_void;
    /// `memalign`: `size` bytes aligned to `align` (a power of two), or null.
    fn memalign(self, align: usize, size: usize) -> *mut c_void;
    /// `calloc(1, size)`: `size` zeroed bytes, or null.
    fn calloc(self, size: usize) -> *mut c_void;
    /// `realloc`, which may move the block.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live block of this heap and `size` non-zero;
    /// otherwise the behavior is undefined. After a non-null return the old
    /// pointer must not be used (unless it is the same pointer).
    unsafe fn realloc(self, ptr: *mut c_void, size: usize) -> *mut c_void;
    /// `realloc_in_place`: returns `ptr` resized, or null if that cannot be
    /// done without moving.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live block of this heap; otherwise the behavior is
    /// undefined.
    unsafe fn realloc_in_place(self, ptr: *mut c_void, size: usize) -> *mut c_void;
    /// `free`.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live block of this heap (or null), never used again;
    /// otherwise the behavior is undefined.
    unsafe fn free(self, ptr: *mut c_void);
    /// `malloc_footprint`.
    fn footprint(self) -> usize;
    /// `malloc_max_footprint`.
    fn max_footprint(self) -> usize;
    /// `malloc_footprint_limit`: `usize::MAX` for none.
    fn raw_footprint_limit(self) -> usize;
    /// `malloc_set_footprint_limit`: 0 or `usize::MAX` removes the limit;
    /// returns the limit in force.
    fn raw_set_footprint_limit(self, bytes: usize) -> usize;
    /// `mallinfo`.
    fn mallinfo(self) -> MallInfo;
    /// `malloc_trim`: 1 if anything was released.
    fn raw_trim(self, pad: usize) -> i32;
    /// `malloc_check`: verifies the heap, calling `report(.., arg)` once per
    /// violation; returns the number of violations.
    ///
    /// # Safety
    ///
    /// `report` must accept `arg` (it is passed through unchanged); otherwise
    /// the behavior is undefined.
    unsafe fn raw_check(self, report: raw::CheckReport, arg: *mut c_void) -> usize;

    /// A block for `layout`, or null: plain `malloc` when its alignment is
    /// within the default, `memalign` only above it.
    #[inline]
    fn alloc(self, layout: Layout) -> *mut u8 {
        if malloc_aligns(layout.align()) {
            self.malloc(layout.size()).cast()
        } else {
            self.memalign(layout.align(), layout.size()).cast()
        }
    }

    /// A zeroed block for `layout`, or null: `calloc` when the alignment is
    /// within the default.
    #[inline]
    fn alloc_zeroed(self, layout: Layout) -> *mut u8 {
        if malloc_aligns(layout.align()) {
            return self.calloc(layout.size()).cast();
        }
        let block = self.alloc(layout);
        if !block.is_null() {
            // SAFETY: `block` is a fresh allocation of `layout.size()` bytes.
            unsafe { ptr::write_bytes(block, 0, layout.size()) };
        }
        block
    }

    /// Frees a block.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live block of this heap, never used again; otherwise
    /// the behavior is undefined.
    #[inline]
    unsafe fn dealloc(self, ptr: *mut u8) {
        // SAFETY: the caller's contract is free's.
        unsafe { self.free(ptr.cast()) }
    }

    /// Resizes a block of `old_size` bytes to `new.size()` bytes aligned to
    /// `new.align()`, keeping the first `min(old_size, new.size())` bytes.
    /// Returns the block (moved or not), or null with the old block
    /// untouched.
    ///
    /// For the default alignment `realloc` does it all (in place when the
    /// chunk can shrink or extend into free space or top, else a move).
    /// Above it, `realloc` could move the block to a less aligned place, so
    /// the block is resized in place if it is aligned to `new.align()` and
    /// the chunk allows, and moved by hand otherwise.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live block of this heap of at least `old_size` bytes
    /// and `new.size()` must be non-zero; otherwise the behavior is
    /// undefined. After a non-null return only the returned pointer may be
    /// used.
    unsafe fn resize(self, ptr: *mut u8, old_size: usize, new: Layout) -> *mut u8 {
        if malloc_aligns(new.align())
            && raw::chunk_size_for(old_size) == raw::chunk_size_for(new.size())
        {
            // The same chunk size: the core would change nothing (a string
            // grown by one byte, 15 times in 16). The chunk holds at least
            // chunk_size_for(old_size) - CHUNK_OVERHEAD >= new.size() bytes.
            return ptr;
        }
        if malloc_aligns(new.align()) {
            // SAFETY: `ptr` is live and `new.size()` non-zero (caller's
            // contract); every block realloc returns is aligned to
            // MALLOC_ALIGNMENT >= new.align(), and on failure it returns null
            // and leaves the old block untouched.
            return unsafe { self.realloc(ptr.cast(), new.size()) }.cast();
        }
        if ptr.addr() % new.align() == 0 {
            // SAFETY: `ptr` is a live block of this heap; realloc_in_place
            // never moves it and returns null when it cannot resize it.
            let resized = unsafe { self.realloc_in_place(ptr.cast(), new.size()) };
            if !resized.is_null() {
                return ptr;
            }
        }
        let moved = self.alloc(new);
        if !moved.is_null() {
            // SAFETY: both blocks are live, distinct, and at least
            // min(old_size, new.size()) bytes long; the old one is freed
            // exactly once, and the caller uses only the new one from now on.
            unsafe {
                ptr::copy_nonoverlapping(ptr, moved, old_size.min(new.size()));
                self.dealloc(ptr);
            }
        }
        moved
    }

    /// `GlobalAlloc::realloc`: [`resize`](RawHeap::resize) keeping the
    /// layout's alignment.
    ///
    /// # Safety
    ///
    /// The contract of `GlobalAlloc::realloc` for a block of this heap:
    /// `ptr` was allocated here with `layout`, `new_size` is non-zero and,
    /// rounded up to `layout.align()`, does not overflow `isize`. Otherwise
    /// the behavior is undefined.
    #[inline]
    unsafe fn realloc_layout(self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` rounded up to the
        // alignment does not overflow isize; the alignment comes from a valid
        // Layout.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `ptr` is a live block of `layout.size()` bytes and
        // `new_size` is non-zero (caller's contract).
        unsafe { self.resize(ptr, layout.size(), new) }
    }

    /// A snapshot of the heap's statistics.
    fn stats(self) -> Stats {
        Stats::from_raw(
            self.footprint(),
            self.max_footprint(),
            self.raw_footprint_limit(),
            self.mallinfo(),
        )
    }

    /// Gives free top memory beyond `pad` and wholly free segments back to
    /// the system; `true` if anything was released.
    fn trim(self, pad: usize) -> bool {
        self.raw_trim(pad) != 0
    }

    /// The footprint limit in force, `None` for none.
    fn footprint_limit(self) -> Option<usize> {
        limit_from_raw(self.raw_footprint_limit())
    }

    /// Sets (or with `None` removes) the footprint limit; returns the limit
    /// now in force.
    fn set_footprint_limit(self, limit: Option<usize>) -> Option<usize> {
        limit_from_raw(self.raw_set_footprint_limit(limit.unwrap_or(usize::MAX)))
    }

    /// Walks the whole heap and reports every broken invariant.
    #[allow(
        clippy::result_large_err,
        reason = "the error cannot be boxed: the crate has no allocator of its own and the \
                  report is built under the heap lock; a failed check is rare"
    )]
    fn heap_check(self) -> Result<(), HeapCheckError> {
        let mut report = HeapCheckError::new();
        // SAFETY: `check::record` takes a `*mut HeapCheckError` as its
        // argument, and `report` outlives the call.
        let found = unsafe { self.raw_check(check::record, (&raw mut report).cast::<c_void>()) };
        report.into_result(found)
    }
}

/// Whether plain `malloc` already returns blocks aligned to `align`.
#[inline]
fn malloc_aligns(align: usize) -> bool {
    align <= raw::MALLOC_ALIGNMENT
}

/// The global heap: the `dl*` entry points.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GlobalHeap;

// SAFETY: the global heap always exists (the core creates it on first use)
// and is locked, so it may be called at any time from any thread; each method
// is the dl* routine of the same name.
unsafe impl RawHeap for GlobalHeap {
    #[inline]
    fn malloc(self, size: usize) -> *mut c_void {
        // SAFETY: dlmalloc accepts any size and returns null on failure.
        unsafe { raw::dlmalloc(size) }
    }
    #[inline]
    fn memalign(self, align: usize, size: usize) -> *mut c_void {
        // SAFETY: dlmemalign accepts any alignment and size; null on failure.
        unsafe { raw::dlmemalign(align, size) }
    }
    #[inline]
    fn calloc(self, size: usize) -> *mut c_void {
        // SAFETY: dlcalloc accepts any sizes; null on failure or overflow.
        unsafe { raw::dlcalloc(1, size) }
    }
    #[inline]
    unsafe fn realloc(self, ptr: *mut c_void, size: usize) -> *mut c_void {
        // SAFETY: `ptr` is a live block of the global heap (caller's contract).
        unsafe { raw::dlrealloc(ptr, size) }
    }
    #[inline]
    unsafe fn realloc_in_place(self, ptr: *mut c_void, size: usize) -> *mut c_void {
        // SAFETY: `ptr` is a live block of the global heap (caller's contract).
        unsafe { raw::dlrealloc_in_place(ptr, size) }
    }
    #[inline]
    unsafe fn free(self, ptr: *mut c_void) {
        // SAFETY: `ptr` is a live block of the global heap, or null (caller's
        // contract).
        unsafe { raw::dlfree(ptr) }
    }
    fn footprint(self) -> usize {
        // SAFETY: reads one counter of the global heap.
        unsafe { raw::dlmalloc_footprint() }
    }
    fn max_footprint(self) -> usize {
        // SAFETY: reads one counter of the global heap.
        unsafe { raw::dlmalloc_max_footprint() }
    }
    fn raw_footprint_limit(self) -> usize {
        // SAFETY: reads one counter of the global heap.
        unsafe { raw::dlmalloc_footprint_limit() }
    }
    fn raw_set_footprint_limit(self, bytes: usize) -> usize {
        // SAFETY: sets one parameter of the global heap, under its lock.
        unsafe { raw::dlmalloc_set_footprint_limit(bytes) }
    }
    fn mallinfo(self) -> MallInfo {
        // SAFETY: reads the global heap's counters, under its lock.
        unsafe { raw::dlmallinfo() }
    }
    fn raw_trim(self, pad: usize) -> i32 {
        // SAFETY: trimming only releases free memory, under the heap lock.
        unsafe { raw::dlmalloc_trim(pad) }
    }
    unsafe fn raw_check(self, report: raw::CheckReport, arg: *mut c_void) -> usize {
        // SAFETY: the check only reads the heap; `report` accepts `arg`
        // (caller's contract).
        unsafe { raw::dlmalloc_check(Some(report), arg) }
    }
}

/// An mspace: the `mspace_*` entry points on one handle.
///
/// Copyable; whoever makes one ([`MspaceHandle::new`]) answers for the
/// heap's life and for keeping an unlocked heap on one thread at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MspaceHandle(NonNull<c_void>);

impl MspaceHandle {
    /// Names the mspace `msp`.
    ///
    /// # Safety
    ///
    /// `msp` must come from `create_mspace` or `create_mspace_with_base` and
    /// must not be destroyed while this handle or a copy of it is used; if
    /// the heap was created unlocked, no two threads may use it at once.
    /// Otherwise the behavior is undefined.
    #[inline]
    pub(crate) unsafe fn new(msp: NonNull<c_void>) -> MspaceHandle {
        MspaceHandle(msp)
    }

    /// The raw handle for the `mspace_*` FFI.
    #[inline]
    pub(crate) fn as_ptr(self) -> raw::Mspace {
        self.0.as_ptr()
    }
}

// SAFETY: `MspaceHandle::new`'s contract keeps the heap live and its use
// single-threaded unless it is locked; each method is the mspace_ routine of
// the same name.
unsafe impl RawHeap for MspaceHandle {
    #[inline]
    fn malloc(self, size: usize) -> *mut c_void {
        // SAFETY: the heap is live; mspace_malloc returns null on failure.
        unsafe { raw::mspace_malloc(self.as_ptr(), size) }
    }
    #[inline]
    fn memalign(self, align: usize, size: usize) -> *mut c_void {
        // SAFETY: the heap is live; mspace_memalign returns null on failure.
        unsafe { raw::mspace_memalign(self.as_ptr(), align, size) }
    }
    #[inline]
    fn calloc(self, size: usize) -> *mut c_void {
        // SAFETY: the heap is live; mspace_calloc returns null on failure.
        unsafe { raw::mspace_calloc(self.as_ptr(), 1, size) }
    }
    #[inline]
    unsafe fn realloc(self, ptr: *mut c_void, size: usize) -> *mut c_void {
        // SAFETY: the heap is live and `ptr` is one of its blocks (caller's
        // contract).
        unsafe { raw::mspace_realloc(self.as_ptr(), ptr, size) }
    }
    #[inline]
    unsafe fn realloc_in_place(self, ptr: *mut c_void, size: usize) -> *mut c_void {
        // SAFETY: the heap is live and `ptr` is one of its blocks (caller's
        // contract).
        unsafe { raw::mspace_realloc_in_place(self.as_ptr(), ptr, size) }
    }
    #[inline]
    unsafe fn free(self, ptr: *mut c_void) {
        // SAFETY: the heap is live and `ptr` is one of its blocks or null
        // (caller's contract).
        unsafe { raw::mspace_free(self.as_ptr(), ptr) }
    }
    fn footprint(self) -> usize {
        // SAFETY: the heap is live; reads one counter.
        unsafe { raw::mspace_footprint(self.as_ptr()) }
    }
    fn max_footprint(self) -> usize {
        // SAFETY: the heap is live; reads one counter.
        unsafe { raw::mspace_max_footprint(self.as_ptr()) }
    }
    fn raw_footprint_limit(self) -> usize {
        // SAFETY: the heap is live; reads one counter.
        unsafe { raw::mspace_footprint_limit(self.as_ptr()) }
    }
    fn raw_set_footprint_limit(self, bytes: usize) -> usize {
        // SAFETY: the heap is live; sets one of its parameters.
        unsafe { raw::mspace_set_footprint_limit(self.as_ptr(), bytes) }
    }
    fn mallinfo(self) -> MallInfo {
        // SAFETY: the heap is live; reads its counters.
        unsafe { raw::mspace_mallinfo(self.as_ptr()) }
    }
    fn raw_trim(self, pad: usize) -> i32 {
        // SAFETY: the heap is live; trimming only releases free memory.
        unsafe { raw::mspace_trim(self.as_ptr(), pad) }
    }
    unsafe fn raw_check(self, report: raw::CheckReport, arg: *mut c_void) -> usize {
        // SAFETY: the heap is live; the check only reads it, and `report`
        // accepts `arg` (caller's contract).
        unsafe { raw::mspace_check(self.as_ptr(), Some(report), arg) }
    }
}
