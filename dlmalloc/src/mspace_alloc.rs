//! `MspaceAlloc`: a heap of its own, created on first use, as a Rust
//! [`GlobalAlloc`].

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::check::HeapCheckError;
use crate::heap::{MspaceHandle, RawHeap};
use crate::raw;
use crate::stats::Stats;

/// An independent heap (a locked mspace), created on first use, as a Rust
/// allocator.
///
/// `new` is a `const fn`, so it can be the global allocator: the heap is
/// created, with room for `capacity` bytes in its first mapping, by the
/// first allocation. Unlike [`DLMalloc`](crate::DLMalloc) it does not share
/// the C core's global heap, and [`destroy`](MspaceAlloc::destroy) returns
/// all its memory at once.
///
/// ```
/// use dlmalloc::MspaceAlloc;
/// use dlmalloc_platform_std as _;
///
/// #[global_allocator]
/// static GLOBAL: MspaceAlloc = MspaceAlloc::new(16 << 20);
///
/// fn main() {
///     let words: Vec<String> = (0..1000).map(|i| format!("word {i}")).collect();
///     assert!(GLOBAL.is_created());
///     assert!(GLOBAL.stats().footprint >= 16 << 20);
///     GLOBAL.heap_check().expect("heap is consistent");
///     drop(words);
/// }
/// ```
///
/// Creating the heap is race-free: two threads whose first allocations meet
/// each create a heap, one installs its heap with a compare-and-swap, and
/// the other destroys its own and uses the winner's. Creation only maps
/// memory through the platform hooks; it never allocates through Rust, so
/// it is safe inside the global allocator.
///
/// Allocation follows [`DLMalloc`](crate::DLMalloc): plain `mspace_malloc`
/// up to the default alignment, `mspace_memalign` above, `mspace_calloc`
/// for zeroed blocks, and a `realloc` that keeps the layout's alignment
/// (the older `portable-dlmalloc` passed the new size where the alignment
/// belongs) and, when it must move a block, copies exactly the smaller of
/// the old and new sizes.
///
/// Dropping an `MspaceAlloc` does not release its heap: blocks from a
/// `GlobalAlloc` are not tied to the allocator's lifetime. Call
/// [`destroy`](MspaceAlloc::destroy), or use an owned
/// [`Mspace`](crate::Mspace).
#[derive(Debug)]
pub struct MspaceAlloc {
    /// The heap: null until the first allocation creates it, and again
    /// after `destroy`.
    heap: AtomicPtr<c_void>,
    /// The room to ask for in the heap's first mapping.
    capacity: usize,
}

impl MspaceAlloc {
    /// An allocator whose heap, once created, starts with room for
    /// `capacity` bytes (rounded up to the granularity; 0 means one
    /// granule) and grows with more mappings as needed.
    ///
    /// Nothing is mapped until the first allocation.
    ///
    /// ```
    /// use dlmalloc::MspaceAlloc;
    ///
    /// static HEAP: MspaceAlloc = MspaceAlloc::new(4 << 20);
    /// assert!(!HEAP.is_created());
    /// assert_eq!(HEAP.capacity(), 4 << 20);
    /// ```
    pub const fn new(capacity: usize) -> MspaceAlloc {
        MspaceAlloc {
            heap: AtomicPtr::new(ptr::null_mut()),
            capacity,
        }
    }

    /// The capacity given to [`new`](MspaceAlloc::new).
    pub const fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the heap exists: `false` before the first allocation and
    /// after [`destroy`](MspaceAlloc::destroy).
    pub fn is_created(&self) -> bool {
        !self.heap.load(Ordering::Acquire).is_null()
    }

    /// The heap's raw `mspace` handle, `None` if it is not created.
    ///
    /// For diagnostics (tests use it to see which heap is in use) and for
    /// the `mspace_*` functions of [`raw`](crate::raw) that have no safe
    /// counterpart here, such as `mspace_inspect_all`. Calling them is
    /// sound while the heap is not destroyed.
    ///
    /// ```
    /// use core::alloc::{GlobalAlloc, Layout};
    /// use dlmalloc::MspaceAlloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// let heap = MspaceAlloc::new(1 << 20);
    /// assert_eq!(heap.raw_handle(), None);
    /// let layout = Layout::new::<u64>();
    /// // SAFETY: the layout has a non-zero size.
    /// let block = unsafe { heap.alloc(layout) };
    /// let handle = heap.raw_handle().expect("the first allocation created the heap");
    /// // SAFETY: the heap is live.
    /// let footprint = unsafe { dlmalloc::raw::mspace_footprint(handle.as_ptr()) };
    /// assert!(footprint >= 1 << 20);
    /// // SAFETY: `block` came from `heap` with this layout; then nothing
    /// // uses the heap any more.
    /// unsafe {
    ///     heap.dealloc(block, layout);
    ///     heap.destroy();
    /// }
    /// ```
    pub fn raw_handle(&self) -> Option<NonNull<c_void>> {
        NonNull::new(self.heap.load(Ordering::Acquire))
    }

    /// The heap, if created.
    #[inline]
    fn current(&self) -> Option<MspaceHandle> {
        // SAFETY: a non-null pointer in `heap` is a locked mspace made by
        // `create`; only `destroy` destroys it, and its caller guarantees
        // that nothing uses the heap from then on.
        self.raw_handle()
            .map(|msp| unsafe { MspaceHandle::new(msp) })
    }

    /// The heap, created now if it does not exist; `None` if it cannot be
    /// created.
    #[inline]
    fn heap(&self) -> Option<MspaceHandle> {
        match self.current() {
            Some(heap) => Some(heap),
            None => self.create(),
        }
    }

    /// Creates a heap and installs it unless another thread was faster, in
    /// which case the fresh heap is destroyed and the other one returned.
    #[cold]
    fn create(&self) -> Option<MspaceHandle> {
        // SAFETY: create_mspace only maps memory through the platform hooks
        // and returns null on failure; it never allocates through Rust.
        let fresh = NonNull::new(unsafe { raw::create_mspace(self.capacity, 1) })?;
        let installed = match self.heap.compare_exchange(
            ptr::null_mut(),
            fresh.as_ptr(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(winner) => {
                // SAFETY: `fresh` was never published, so nothing else knows
                // it; destroying it releases its mapping.
                unsafe { raw::destroy_mspace(fresh.as_ptr()) };
                // SAFETY: the exchange failed, so `heap` was not null.
                unsafe { NonNull::new_unchecked(winner) }
            }
        };
        // SAFETY: `installed` is a locked mspace made here or by the thread
        // that won the race; it lives until `destroy`, whose caller
        // guarantees that nothing uses it from then on.
        Some(unsafe { MspaceHandle::new(installed) })
    }

    /// Destroys the heap: every mapping it made goes back to the system at
    /// once. Returns the bytes released (0 if the heap was not created).
    ///
    /// The allocator stays usable: the next allocation creates a fresh heap.
    ///
    /// ```
    /// use core::alloc::{GlobalAlloc, Layout};
    /// use dlmalloc::MspaceAlloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// let heap = MspaceAlloc::new(1 << 20);
    /// let layout = Layout::from_size_align(1000, 8).unwrap();
    /// // SAFETY: the layout has a non-zero size.
    /// let block = unsafe { heap.alloc(layout) };
    /// assert!(!block.is_null());
    /// // SAFETY: no block of the heap is used after this, and no other
    /// // thread uses the allocator.
    /// let released = unsafe { heap.destroy() };
    /// assert!(released >= 1 << 20);
    /// assert!(!heap.is_created());
    /// ```
    ///
    /// # Safety
    ///
    /// Every block allocated from this heap dies: using one afterwards, or
    /// passing one to `dealloc` or `realloc`, is undefined behavior. No other
    /// thread may use the allocator during the call; one that does has
    /// undefined behavior. In particular, destroying a global allocator is
    /// only sound once nothing (not even the standard library's own
    /// buffers) holds memory from it.
    pub unsafe fn destroy(&self) -> usize {
        let old = self.heap.swap(ptr::null_mut(), Ordering::AcqRel);
        if old.is_null() {
            return 0;
        }
        // SAFETY: `old` was this allocator's live heap, now unpublished; the
        // caller guarantees that none of its blocks and no other thread
        // uses it.
        unsafe { raw::destroy_mspace(old) }
    }

    /// A snapshot of the heap's statistics; all zero (and no limit) if the
    /// heap is not created.
    ///
    /// ```
    /// use dlmalloc::MspaceAlloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// #[global_allocator]
    /// static GLOBAL: MspaceAlloc = MspaceAlloc::new(8 << 20);
    ///
    /// fn main() {
    ///     let buffer = vec![7u8; 100_000];
    ///     let stats = GLOBAL.stats();
    ///     assert!(stats.in_use_bytes >= buffer.len());
    ///     println!("{stats}");
    /// }
    /// ```
    pub fn stats(&self) -> Stats {
        self.current().map_or(Stats::EMPTY, RawHeap::stats)
    }

    /// Gives unused memory back to the system: the free top of the heap
    /// beyond `pad` bytes, and segments that are wholly free. Returns `true`
    /// if anything was released (`false` if the heap is not created).
    ///
    /// ```
    /// use dlmalloc::MspaceAlloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// #[global_allocator]
    /// static GLOBAL: MspaceAlloc = MspaceAlloc::new(1 << 20);
    ///
    /// fn main() {
    ///     let blocks: Vec<Vec<u8>> = (0..100).map(|_| vec![1; 64 << 10]).collect();
    ///     drop(blocks);
    ///     GLOBAL.trim(0);
    ///     assert!(GLOBAL.stats().footprint < GLOBAL.stats().max_footprint);
    /// }
    /// ```
    pub fn trim(&self, pad: usize) -> bool {
        self.current().is_some_and(|heap| heap.trim(pad))
    }

    /// The footprint limit in force: the most system memory the heap may
    /// hold. `None` when there is no limit (the default) or no heap yet.
    pub fn footprint_limit(&self) -> Option<usize> {
        self.current().and_then(RawHeap::footprint_limit)
    }

    /// Limits the system memory the heap may hold to `limit` bytes (rounded
    /// up to whole pages), or removes the limit with `None`; creates the
    /// heap first if needed. Returns the limit now in force (`None` also if
    /// the heap cannot be created).
    ///
    /// Once the limit is reached, allocations that would need more system
    /// memory fail (return null) instead of growing the heap. As in the C
    /// API, `Some(0)` also removes the limit. A heap created after a
    /// [`destroy`](MspaceAlloc::destroy) starts without a limit.
    ///
    /// ```
    /// use core::alloc::{GlobalAlloc, Layout};
    /// use dlmalloc::MspaceAlloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// let heap = MspaceAlloc::new(1 << 20);
    /// heap.set_footprint_limit(Some(4 << 20));
    /// let big = Layout::from_size_align(8 << 20, 8).unwrap();
    /// // SAFETY: the layout has a non-zero size.
    /// assert!(unsafe { heap.alloc(big) }.is_null());
    /// // SAFETY: no block of the heap is alive.
    /// unsafe { heap.destroy() };
    /// ```
    pub fn set_footprint_limit(&self, limit: Option<usize>) -> Option<usize> {
        self.heap().and_then(|heap| heap.set_footprint_limit(limit))
    }

    /// Walks the whole heap and verifies every invariant the core maintains
    /// (see [`DLMalloc::heap_check`](crate::DLMalloc::heap_check)). A heap
    /// not yet created is consistent.
    ///
    /// ```
    /// use dlmalloc::MspaceAlloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// #[global_allocator]
    /// static GLOBAL: MspaceAlloc = MspaceAlloc::new(4 << 20);
    ///
    /// fn main() {
    ///     let words: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    ///     if let Err(error) = GLOBAL.heap_check() {
    ///         panic!("{error}");
    ///     }
    ///     drop(words);
    /// }
    /// ```
    #[allow(
        clippy::result_large_err,
        reason = "the error cannot be boxed: the crate has no allocator of its own and the \
                  report is built under the heap lock; a failed check is rare"
    )]
    pub fn heap_check(&self) -> Result<(), HeapCheckError> {
        self.current().map_or(Ok(()), RawHeap::heap_check)
    }
}

// SAFETY: the heap returns blocks of at least the requested size, aligned as
// the layout asks (RawHeap::alloc picks memalign above the default
// alignment), or null; a block stays valid until it is freed or the heap is
// destroyed (`destroy` is unsafe and its caller answers for that), blocks do
// not overlap, and the heap is locked, so any thread may call. `realloc`
// keeps the layout's alignment.
unsafe impl GlobalAlloc for MspaceAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.heap()
            .map_or(ptr::null_mut(), |heap| heap.alloc(layout))
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.heap()
            .map_or(ptr::null_mut(), |heap| heap.alloc_zeroed(layout))
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // A block exists, so does its heap (`destroy`'s contract).
        if let Some(heap) = self.current() {
            // SAFETY: the caller guarantees `ptr` is a live block of this
            // allocator, so of its heap, and is not used again.
            unsafe { heap.dealloc(ptr) }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match self.current() {
            // SAFETY: GlobalAlloc::realloc's contract, which the caller
            // upholds, is realloc_layout's; `ptr` is a block of this heap.
            Some(heap) => unsafe { heap.realloc_layout(ptr, layout, new_size) },
            None => ptr::null_mut(),
        }
    }
}
