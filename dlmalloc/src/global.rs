//! The global heap of the C core as a Rust [`GlobalAlloc`], with its
//! statistics, trimming, footprint limit and heap check.

use core::alloc::{GlobalAlloc, Layout};

use crate::check::HeapCheckError;
use crate::heap::{GlobalHeap, RawHeap};
use crate::stats::Stats;
use crate::thread_cache;

/// The C core's global heap as a Rust allocator.
///
/// A unit struct: the heap's state lives in the C core, so every `DLMalloc`
/// value names the same heap. Declare it as the global allocator in one line,
/// next to the line that links a platform crate (the hooks that give the
/// core its pages, locks and abort):
///
/// ```
/// use dlmalloc::DLMalloc;
/// use dlmalloc_platform_std as _;
///
/// #[global_allocator]
/// static GLOBAL: DLMalloc = DLMalloc;
///
/// fn main() {
///     let squares: Vec<u64> = (0..1000).map(|i| i * i).collect();
///     assert_eq!(squares[999], 998_001);
///     assert!(GLOBAL.stats().footprint > 0);
/// }
/// ```
///
/// It can also be called directly, without being the global allocator:
///
/// ```
/// use core::alloc::{GlobalAlloc, Layout};
/// use dlmalloc::DLMalloc;
/// use dlmalloc_platform_std as _;
///
/// let layout = Layout::from_size_align(1000, 4096).unwrap();
/// // SAFETY: the layout has a non-zero size.
/// let block = unsafe { DLMalloc.alloc(layout) };
/// assert!(!block.is_null());
/// assert_eq!(block as usize % 4096, 0);
/// // SAFETY: `block` came from `DLMalloc.alloc` with this layout.
/// unsafe { DLMalloc.dealloc(block, layout) };
/// ```
///
/// Blocks whose alignment is at most [`raw::MALLOC_ALIGNMENT`](crate::raw::MALLOC_ALIGNMENT) (two pointer
/// sizes) come from plain `dlmalloc`; larger alignments use `dlmemalign`.
/// `realloc` keeps the layout's alignment and, when it has to move a block,
/// copies exactly the smaller of the old and new sizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DLMalloc;

// SAFETY: the core returns blocks of at least the requested size, aligned to
// MALLOC_ALIGNMENT (malloc, calloc, realloc) or to the requested power of two
// (memalign), or null; a block stays valid until it is freed, blocks do not
// overlap, and the core's lock hooks make it safe to call from any thread.
// `RawHeap` keeps the layout's alignment across realloc.
unsafe impl GlobalAlloc for DLMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if thread_cache::serves(layout.size(), layout.align()) {
            let cached = thread_cache::take(layout.size());
            if !cached.is_null() {
                return cached;
            }
        }
        // SAFETY: GlobalAlloc::alloc's contract, which the caller upholds.
        unsafe { self.alloc_slow(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if thread_cache::serves(layout.size(), layout.align()) {
            let cached = thread_cache::alloc(layout.size());
            if !cached.is_null() {
                // SAFETY: a cached block has at least `layout.size()` bytes.
                unsafe { core::ptr::write_bytes(cached, 0, layout.size()) };
                return cached;
            }
        } else {
            let fresh = thread_cache::alloc_in_arena(layout);
            if !fresh.is_null() {
                // SAFETY: a fresh block of at least `layout.size()` bytes.
                unsafe { core::ptr::write_bytes(fresh, 0, layout.size()) };
                return fresh;
            }
        }
        GlobalHeap.alloc_zeroed(layout)
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if thread_cache::serves(layout.size(), layout.align())
            // SAFETY: the caller guarantees `ptr` is a live block of this
            // allocator allocated or reallocated with `layout`, which it
            // gives up.
            && unsafe { thread_cache::keep(ptr, layout.size()) }
        {
            return;
        }
        // SAFETY: GlobalAlloc::dealloc's contract, which the caller upholds.
        unsafe { self.dealloc_slow(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if thread_cache::serves(layout.size(), layout.align())
            && thread_cache::serves(new_size, layout.align())
            && thread_cache::moves_between(layout.size(), new_size)
        {
            // Both sizes are cached, in different classes: move through the
            // thread cache (a copy of at most 32 KiB) instead of taking the
            // heap's lock.
            // SAFETY: `new_size` is non-zero and forms a valid layout with
            // the alignment (GlobalAlloc::realloc's contract).
            let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: a non-zero size; then the caller's block and a fresh
            // one of `new_size` bytes (or null).
            return unsafe { self.move_into(ptr, layout, self.alloc(new), new_size) };
        }
        if thread_cache::in_arena(ptr) {
            // SAFETY: GlobalAlloc::realloc's contract, for an arena's block.
            return unsafe { self.realloc_arena_block(ptr, layout, new_size) };
        }
        // SAFETY: GlobalAlloc::realloc's contract, which the caller upholds,
        // is realloc_layout's; `ptr` is a block of the global heap.
        let resized = unsafe { GlobalHeap.realloc_layout(ptr, layout, new_size) };
        if new_size <= size_of::<usize>() && thread_cache::serves(new_size, layout.align()) {
            // SAFETY: a live block of a size the cache serves; its second word
            // lies past the `new_size` bytes the caller may use.
            unsafe { thread_cache::prepare(resized) };
        }
        resized
    }
}

impl DLMalloc {
    /// Everything [`alloc`](GlobalAlloc::alloc) does past a cache hit: a
    /// miss refills the cache, larger blocks come from the thread's arena or
    /// the global heap. Kept out of line, so that the hit path inlined into
    /// the program saves no registers; inlined where there is no cache
    /// (then it is the whole of `alloc`, one call into the core).
    ///
    /// # Safety
    ///
    /// `GlobalAlloc::alloc`'s contract.
    #[cfg_attr(
        all(feature = "thread-cache", any(target_os = "linux", windows)),
        inline(never)
    )]
    #[cfg_attr(
        not(all(feature = "thread-cache", any(target_os = "linux", windows))),
        inline
    )]
    unsafe fn alloc_slow(&self, layout: Layout) -> *mut u8 {
        if thread_cache::serves(layout.size(), layout.align()) {
            let cached = thread_cache::alloc(layout.size());
            if !cached.is_null() {
                return cached;
            }
            let fresh = GlobalHeap.alloc(layout);
            // SAFETY: a fresh block of a size the cache serves.
            unsafe { thread_cache::prepare(fresh) };
            return fresh;
        }
        let fresh = thread_cache::alloc_in_arena(layout);
        if !fresh.is_null() {
            return fresh;
        }
        GlobalHeap.alloc(layout)
    }

    /// Everything [`dealloc`](GlobalAlloc::dealloc) does when the cache
    /// does not simply keep the block: a full class gives half back, a
    /// streak of frees gives the cache back, other blocks go to their arena
    /// or the global heap. Kept out of line (inlined without a cache), as
    /// [`alloc_slow`](Self::alloc_slow).
    ///
    /// # Safety
    ///
    /// `GlobalAlloc::dealloc`'s contract.
    #[cfg_attr(
        all(feature = "thread-cache", any(target_os = "linux", windows)),
        inline(never)
    )]
    #[cfg_attr(
        not(all(feature = "thread-cache", any(target_os = "linux", windows))),
        inline
    )]
    unsafe fn dealloc_slow(&self, ptr: *mut u8, layout: Layout) {
        if thread_cache::serves(layout.size(), layout.align())
            // SAFETY: the caller guarantees `ptr` is a live block of this
            // allocator (the global heap) allocated or reallocated with
            // `layout`, which it gives up.
            && unsafe { thread_cache::free(ptr, layout.size()) }
        {
            return;
        }
        if thread_cache::in_arena(ptr) {
            // SAFETY: a live block of an arena, given up (caller's contract);
            // its second word is the program's or `prepare`'s.
            unsafe { thread_cache::free_arena_block(ptr) };
            return;
        }
        // SAFETY: the caller guarantees `ptr` was allocated by this allocator,
        // and it is not an arena's, so it is the global heap's; it is not
        // used again.
        unsafe { GlobalHeap.dealloc(ptr) }
    }

    /// The end of a realloc that moves: copies the kept bytes of `ptr` into
    /// `moved` and frees `ptr`. Returns `moved`; when it is null (no
    /// memory) the old block stays as it was.
    ///
    /// # Safety
    ///
    /// `ptr` is a live block of this allocator allocated with `layout`, and
    /// `moved` is null or a fresh block of at least `new_size` bytes,
    /// distinct from it. After a non-null return only `moved` may be used.
    unsafe fn move_into(
        &self,
        ptr: *mut u8,
        layout: Layout,
        moved: *mut u8,
        new_size: usize,
    ) -> *mut u8 {
        if !moved.is_null() {
            // SAFETY: both blocks are live and distinct; the old one is freed
            // once, with its layout, and not used again (contract).
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        moved
    }

    /// `realloc` of a block of an arena: within one cached class (the
    /// caller moved blocks between classes), in place when the block holds
    /// the new size (read from its header, without the arena's lock); to a
    /// size arenas do not serve, moved to the global heap (a growing vector
    /// then reaches the heap that can grow its mapping in place); else the
    /// core's, which gives the block to its arena (under that arena's
    /// lock), shrinks it there or grows it in place when it can. (A block
    /// the core resized holds its exact size, not its class's largest.)
    ///
    /// # Safety
    ///
    /// `GlobalAlloc::realloc`'s contract, and `ptr` belongs to an arena.
    unsafe fn realloc_arena_block(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if thread_cache::serves(layout.size(), layout.align())
            && thread_cache::serves(new_size, layout.align())
            // SAFETY: a live block of an arena (an mspace of the core).
            && unsafe { crate::raw::usable_size_unmapped(ptr.cast()) }
                .is_some_and(|holds| holds >= new_size)
        {
            return ptr;
        }
        if !thread_cache::arena_serves(new_size, layout.align()) {
            // SAFETY: `new_size` is non-zero and forms a valid layout with
            // the alignment (GlobalAlloc::realloc's contract).
            let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: the caller's block and a fresh one of `new_size` bytes
            // (or null).
            return unsafe { self.move_into(ptr, layout, GlobalHeap.alloc(new), new_size) };
        }
        // SAFETY: GlobalAlloc::realloc's contract is realloc_layout's; the
        // core's dlrealloc takes blocks of arenas (attached heaps).
        let resized = unsafe { GlobalHeap.realloc_layout(ptr, layout, new_size) };
        if new_size <= size_of::<usize>() && thread_cache::serves(new_size, layout.align()) {
            // SAFETY: a live block of a size the cache serves; its second word
            // lies past the `new_size` bytes the caller may use.
            unsafe { thread_cache::prepare(resized) };
        }
        resized
    }

    /// A snapshot of the statistics of all the memory `DLMalloc` manages:
    /// the global heap and the per-thread heaps (arenas, with the
    /// `thread-cache` feature), added up. `max_footprint` is the sum of
    /// each heap's peak, which bounds the peak of the total.
    ///
    /// ```
    /// use dlmalloc::DLMalloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// #[global_allocator]
    /// static GLOBAL: DLMalloc = DLMalloc;
    ///
    /// fn main() {
    ///     let buffer = vec![7u8; 100_000];
    ///     let stats = GLOBAL.stats();
    ///     assert!(stats.in_use_bytes >= buffer.len());
    ///     println!("{stats}");
    /// }
    /// ```
    pub fn stats(&self) -> Stats {
        self.flush_thread_caches();
        self.stats_unflushed()
    }

    /// The statistics as the heaps count them now, without giving the
    /// thread caches back first: blocks that threads keep in their caches
    /// (or that wait to be freed in their arena) count as in use. It does not
    /// stop other threads, so it costs only the heaps' own walks; use it to
    /// watch memory, and [`stats`](DLMalloc::stats) for exact figures.
    ///
    /// ```
    /// use dlmalloc::DLMalloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// #[global_allocator]
    /// static GLOBAL: DLMalloc = DLMalloc;
    ///
    /// fn main() {
    ///     let buffer = vec![1u8; 1 << 20];
    ///     assert!(GLOBAL.stats_unflushed().in_use_bytes >= buffer.len());
    /// }
    /// ```
    pub fn stats_unflushed(&self) -> Stats {
        // The core's global figures include the arenas (attached heaps).
        let mut total = GlobalHeap.stats();
        total.footprint_limit = self.footprint_limit();
        total
    }

    /// Gives unused memory back to the system: the free top of the heap
    /// beyond `pad` bytes, and segments that are wholly free. Returns `true`
    /// if anything was released.
    ///
    /// The heap trims itself when its free top grows past the trim
    /// threshold ([`raw::M_TRIM_THRESHOLD`](crate::raw::M_TRIM_THRESHOLD)); call this after freeing a
    /// lot of memory that will not be needed again soon.
    ///
    /// ```
    /// use dlmalloc::DLMalloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// #[global_allocator]
    /// static GLOBAL: DLMalloc = DLMalloc;
    ///
    /// fn main() {
    ///     let blocks: Vec<Vec<u8>> = (0..100).map(|_| vec![1; 64 << 10]).collect();
    ///     drop(blocks);
    ///     GLOBAL.trim(0);
    ///     assert!(GLOBAL.stats().footprint < GLOBAL.stats().max_footprint);
    /// }
    /// ```
    pub fn trim(&self, pad: usize) -> bool {
        self.flush_thread_caches();
        GlobalHeap.trim(pad)
    }

    /// The footprint limit in force: the most system memory the global heap
    /// may hold. `None` when there is no limit (the default).
    ///
    /// ```
    /// use dlmalloc::DLMalloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// assert_eq!(DLMalloc.footprint_limit(), None);
    /// ```
    pub fn footprint_limit(&self) -> Option<usize> {
        GlobalHeap.footprint_limit()
    }

    /// Limits the system memory the global heap may hold to `limit` bytes
    /// (rounded up to whole pages), or removes the limit with `None`.
    /// Returns the limit now in force.
    ///
    /// Once the limit is reached, allocations that would need more system
    /// memory fail (return null) instead of growing the heap; memory already
    /// held is kept. As in the C API, `Some(0)` also removes the limit.
    ///
    /// ```
    /// use core::alloc::{GlobalAlloc, Layout};
    /// use dlmalloc::DLMalloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// let limit = DLMalloc.stats().footprint + (64 << 20);
    /// let in_force = DLMalloc.set_footprint_limit(Some(limit)).unwrap();
    /// assert!(in_force >= limit);
    ///
    /// // A request beyond the limit fails instead of growing the heap.
    /// let huge = Layout::from_size_align(128 << 20, 8).unwrap();
    /// // SAFETY: the layout has a non-zero size.
    /// assert!(unsafe { DLMalloc.alloc(huge) }.is_null());
    ///
    /// assert_eq!(DLMalloc.set_footprint_limit(None), None);
    /// ```
    pub fn set_footprint_limit(&self, limit: Option<usize>) -> Option<usize> {
        // The core's global limit bounds the arenas (attached heaps) too.
        GlobalHeap.set_footprint_limit(limit)
    }

    /// Walks the whole global heap and verifies every invariant the core
    /// maintains (boundary tags, bins and their bitmaps, top, segment
    /// records, directly mapped chunks, footprint accounting).
    ///
    /// The walk holds the heap lock, so other threads' allocations wait for
    /// it; its cost grows with the number of chunks. Tests call it after a
    /// workload; a program may call it when it suspects corruption.
    ///
    /// ```
    /// use dlmalloc::DLMalloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// #[global_allocator]
    /// static GLOBAL: DLMalloc = DLMalloc;
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
        self.flush_thread_caches();
        GlobalHeap.heap_check()
    }

    /// Gives the blocks every thread keeps in its cache back to their heaps,
    /// and frees the blocks that wait on the arenas' lists of frees from
    /// other threads (with the `thread-cache` feature; otherwise it does
    /// nothing).
    ///
    /// [`stats`](DLMalloc::stats), [`trim`](DLMalloc::trim) and
    /// [`heap_check`](DLMalloc::heap_check) do this first, so they see
    /// exactly the blocks the program holds. Call it before
    /// [`stats_unflushed`](DLMalloc::stats_unflushed) or the raw C API
    /// (`raw::dlmallinfo`, `raw::dlmalloc_inspect_all`, which see the global
    /// heap only) when cached blocks must not count as in use.
    ///
    /// ```
    /// use dlmalloc::DLMalloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// #[global_allocator]
    /// static GLOBAL: DLMalloc = DLMalloc;
    ///
    /// fn main() {
    ///     drop(vec![0u8; 100]);
    ///     GLOBAL.flush_thread_caches();
    ///     assert!(GLOBAL.stats_unflushed().free_bytes > 0);
    /// }
    /// ```
    pub fn flush_thread_caches(&self) {
        thread_cache::flush_all();
    }
}
