//! Raw FFI to the portable Doug-Lea-style allocator core.
//!
//! This crate compiles the C core (`csrc/`, written by this project) and
//! declares its C API. Names, signatures and constants are those of the
//! `portable-dlmalloc` crate, so code written against it links unchanged.
//!
//! Most users want the safe `dlmalloc` crate plus a platform crate
//! (`dlmalloc-platform-std` on hosted Unix). Use this crate directly to build
//! your own wrapper or to call the C API.
//!
//! # The platform contract
//!
//! The core knows nothing about the machine it runs on. It asks C-ABI hook
//! functions for pages (`custom_mmap`, `custom_munmap`), for a lock that
//! lives in one pointer-sized slot (`init_lock`, `final_lock`,
//! `acquire_lock`, `release_lock`) and to stop on detected corruption
//! (`custom_abort`); `custom_page_size` and `custom_mremap` are optional.
//! Exactly one crate in the final program must define them with
//! `#[unsafe(no_mangle)]`: a platform crate, or your own code. Forgetting
//! them is a link error naming `custom_mmap` and friends. In short, a hook
//! never allocates through this allocator, page hooks may run concurrently,
//! and `custom_mmap` fails with `(void*)-1`. What each hook must guarantee,
//! and exactly which ranges the core hands back, is stated once, in
//! `csrc/dl_hooks.h` (shipped with this crate; C code finds it through
//! `DEP_DLMALLOC_INCLUDE`). Their Rust signatures:
//!
//! ```text
//! unsafe extern "C" fn custom_mmap(len: usize) -> *mut c_void
//! unsafe extern "C" fn custom_munmap(ptr: *mut c_void, len: usize) -> i32
//! unsafe extern "C" fn init_lock(lock: *mut *mut c_void)
//! unsafe extern "C" fn final_lock(lock: *mut *mut c_void)
//! unsafe extern "C" fn acquire_lock(lock: *mut *mut c_void)
//! unsafe extern "C" fn release_lock(lock: *mut *mut c_void)
//! unsafe extern "C" fn custom_abort(msg: *const c_char, file: *const c_char, line: u32) -> !
//! // optional: weak references where the target has them (see dl_hooks.h)
//! extern "C" fn custom_page_size() -> usize
//! extern "C" fn custom_mremap(old: *mut c_void, old_len: usize, new_len: usize, may_move: i32)
//!     -> *mut c_void
//! ```
//!
//! The first call into the allocator sets the core up; threads that make
//! their first call at that same moment busy-wait for it. On an RTOS with
//! strict priorities on one core, make one allocation before starting
//! threads.
//!
//! # Build configuration
//!
//! `DEFAULT_MMAP_GRANULARITY` (environment variable read by the build
//! script): the unit in which the core asks for system memory, decimal or
//! `0x` hex, a power of two, default 2 MiB. Cargo features: `footers`
//! (owner tags on every chunk), `debug` (cheap and internal assertions),
//! `debug-heap-walk` (a whole-heap check after every operation).
#![no_std]
#![deny(missing_docs)]

pub mod report;

use core::ffi::{c_char, c_int, c_uint, c_void};

/// `dlmallopt` parameter: free top space kept before the heap is trimmed.
/// Until a program sets it, each heap starts at 2 MiB and doubles its own
/// threshold (up to 64 MiB) whenever it must grow again after a trim gave
/// memory back; once set, every heap uses the value and none adapts.
pub const M_TRIM_THRESHOLD: c_int = -1;
/// `dlmallopt` parameter: the unit of system memory requests (a power of
/// two, at least the page size).
pub const M_GRANULARITY: c_int = -2;
/// `dlmallopt` parameter: requests at or above this size that the heap's
/// free memory cannot serve get their own mapping (and go straight back to
/// the system when freed) instead of growing the heap.
pub const M_MMAP_THRESHOLD: c_int = -3;

/// Error number returned by `dlposix_memalign` when memory is exhausted.
pub const ENOMEM: c_int = 12;
/// Error number returned by `dlposix_memalign` for a bad alignment.
pub const EINVAL: c_int = 22;

/// The alignment of every block `dlmalloc` returns: two pointer sizes.
pub const MALLOC_ALIGNMENT: usize = 2 * core::mem::size_of::<usize>();

/// Bytes of bookkeeping in every in-use chunk: its header word, plus the
/// owner footer word with the `footers` feature.
pub const CHUNK_OVERHEAD: usize =
    if cfg!(feature = "footers") { 2 } else { 1 } * size_of::<usize>();

/// The smallest chunk: four words, rounded up to [`MALLOC_ALIGNMENT`].
pub const MIN_CHUNK_SIZE: usize =
    (4 * size_of::<usize>() + MALLOC_ALIGNMENT - 1) & !(MALLOC_ALIGNMENT - 1);

/// The chunk size the core carves for a `malloc(request)` from free memory
/// (the chunk it returns may be larger, never smaller), so every block of a
/// `request`-byte allocation has at least `chunk_size_for(request) -
/// CHUNK_OVERHEAD` usable bytes. Meaningful below the mmap threshold; the
/// caller keeps `request` far from `usize::MAX`.
pub const fn chunk_size_for(request: usize) -> usize {
    let padded = (request + CHUNK_OVERHEAD + MALLOC_ALIGNMENT - 1) & !(MALLOC_ALIGNMENT - 1);
    if padded < MIN_CHUNK_SIZE {
        MIN_CHUNK_SIZE
    } else {
        padded
    }
}

/// The usable bytes of `block`, read from its chunk header without a call
/// into the core, or `None` when the block has a mapping of its own (a
/// request at or above the mmap threshold). For every other block it equals
/// [`dlmalloc_usable_size`]`(block)`. A Rust wrapper that must know a
/// block's real capacity on a fast path (the thread cache, when it files a
/// freed block by size) uses this instead of the call.
///
/// # Safety
///
/// `block` must be a live (not freed) block returned by this core's global
/// heap or one of its mspaces; otherwise the behavior is undefined.
#[inline]
pub unsafe fn usable_size_unmapped(block: *const c_void) -> Option<usize> {
    /// Flag bits of a chunk header (csrc/dl_types.h): the previous chunk is
    /// in use, this chunk is in use, this chunk has its own mapping.
    const FLAG_BITS: usize = 7;
    const MAPPED: usize = 4;
    // SAFETY: every block the core returns is preceded by its chunk's
    // header word, which stays valid while the block is live (contract).
    let head = unsafe { block.cast::<usize>().sub(1).read() };
    if head & MAPPED != 0 {
        return None;
    }
    Some((head & !FLAG_BITS) - CHUNK_OVERHEAD)
}

/// The usable bytes of `block` when its chunk header marks it in use and
/// it has no mapping of its own, read without a call into the core; `None`
/// otherwise. A wrapper that frees blocks of unknown size (C's `free`) uses
/// it: `Some` is a block it may file by size, and `None` goes to the core
/// ([`dlfree`]), which frees a mapped block and reports one that is not in
/// use (a double free) through `custom_abort`.
///
/// # Safety
///
/// The word before `block` must be readable: `block` was returned by this
/// core's global heap or one of its mspaces (live or already freed).
#[inline]
pub unsafe fn usable_size_in_use_unmapped(block: *const c_void) -> Option<usize> {
    /// Flag bits of a chunk header (csrc/dl_types.h): this chunk is in use,
    /// this chunk has its own mapping.
    const IN_USE: usize = 2;
    const MAPPED: usize = 4;
    // SAFETY: the header word before the block is readable (contract).
    let head = unsafe { block.cast::<usize>().sub(1).read() };
    if head & (IN_USE | MAPPED) != IN_USE {
        return None;
    }
    // SAFETY: as above; an in-use unmapped chunk's header is the one
    // usable_size_unmapped reads.
    unsafe { usable_size_unmapped(block) }
}

/// The classic `mallinfo` report. Every field is a byte or chunk count.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MallInfo {
    /// Bytes in segments (memory not directly mapped).
    pub arena: usize,
    /// Number of free chunks, the top chunk included.
    pub ordblks: usize,
    /// Always 0 (this design has no fast bins).
    pub smblks: usize,
    /// Number of directly mapped chunks.
    pub hblks: usize,
    /// Bytes in directly mapped chunks.
    pub hblkhd: usize,
    /// The maximum footprint ever reached.
    pub usmblks: usize,
    /// Always 0.
    pub fsmblks: usize,
    /// Bytes in use: the footprint minus free bytes.
    pub uordblks: usize,
    /// Free bytes inside the footprint.
    pub fordblks: usize,
    /// Size of the top chunk: the most `dlmalloc_trim` could release.
    pub keepcost: usize,
}

/// An independent heap (C `mspace`, a `void *`): the address of its state,
/// which lives inside the heap's first segment.
pub type Mspace = *mut c_void;

/// Callback of [`dlmalloc_inspect_all`]: `(start, end, used_bytes, arg)`.
/// `used_bytes` is 0 for free chunks.
pub type InspectHandler =
    unsafe extern "C" fn(start: *mut c_void, end: *mut c_void, used_bytes: usize, arg: *mut c_void);

/// Callback of [`dlmalloc_check`]: `(what, where, arg)`, once per violation.
/// `what` is a static NUL-terminated ASCII description.
pub type CheckReport =
    unsafe extern "C" fn(what: *const c_char, at: *const c_void, arg: *mut c_void);

unsafe extern "C" {
    /// The platform's abort hook (see `csrc/dl_hooks.h`), which the core
    /// calls on detected misuse. Declared here so that Rust wrappers report
    /// misuse they detect themselves (the thread cache's double free, say)
    /// exactly as the core does. Never returns.
    pub fn custom_abort(msg: *const c_char, file: *const c_char, line: c_uint) -> !;
    /// The platform's `custom_mmap` hook: `len` bytes of fresh page-aligned
    /// memory, or `usize::MAX as *mut c_void` (`MAP_FAILED`) or null on
    /// failure. Declared for code that takes pages for its own heaps (the
    /// safe crate's arenas reserve their address space through it).
    pub fn custom_mmap(len: usize) -> *mut c_void;

    /// Allocates `bytes` bytes aligned to [`MALLOC_ALIGNMENT`]; null on failure.
    pub fn dlmalloc(bytes: usize) -> *mut c_void;
    /// Frees a block from this heap; null is ignored. Detected misuse
    /// (double free, a pointer this heap never returned) calls `custom_abort`.
    pub fn dlfree(mem: *mut c_void);
    /// Allocates `count * elem_size` zeroed bytes; null on failure or overflow.
    pub fn dlcalloc(count: usize, elem_size: usize) -> *mut c_void;
    /// Resizes a block, moving it if needed. `dlrealloc(null, n)` is
    /// `dlmalloc(n)`; `dlrealloc(p, 0)` frees `p` and returns null. On
    /// failure returns null and leaves the old block untouched.
    pub fn dlrealloc(mem: *mut c_void, bytes: usize) -> *mut c_void;
    /// Resizes a block without moving it: returns `mem`, or null if it cannot.
    pub fn dlrealloc_in_place(mem: *mut c_void, bytes: usize) -> *mut c_void;
    /// Allocates with any power-of-two alignment (others are rounded up).
    pub fn dlmemalign(alignment: usize, bytes: usize) -> *mut c_void;
    /// POSIX `posix_memalign`: 0, [`EINVAL`] or [`ENOMEM`]; writes `*pp`
    /// only on success.
    pub fn dlposix_memalign(pp: *mut *mut c_void, alignment: usize, bytes: usize) -> c_int;
    /// Allocates page-aligned memory.
    pub fn dlvalloc(bytes: usize) -> *mut c_void;
    /// Allocates page-aligned memory, the size rounded up to whole pages.
    pub fn dlpvalloc(bytes: usize) -> *mut c_void;
    /// Sets [`M_TRIM_THRESHOLD`], [`M_GRANULARITY`] or [`M_MMAP_THRESHOLD`]
    /// (-1 means the maximum). Returns 1 if set, 0 if refused.
    pub fn dlmallopt(param: c_int, value: c_int) -> c_int;
    /// Sets the allocator up now (page size, parameters, the global heap and
    /// its lock, which is when a platform installs its fork handlers)
    /// instead of on the first call. Idempotent and thread-safe; for
    /// wrappers whose own set-up must come after the core's.
    pub fn dlmalloc_init();
    /// Returns unused memory to the system, keeping `pad` bytes of top.
    /// Returns 1 if anything was released.
    pub fn dlmalloc_trim(pad: usize) -> c_int;
    /// The usable size of an allocated block (at least what was requested);
    /// 0 for null.
    pub fn dlmalloc_usable_size(mem: *const c_void) -> usize;
    /// Bytes currently obtained from the system.
    pub fn dlmalloc_footprint() -> usize;
    /// The maximum of [`dlmalloc_footprint`] ever reached.
    pub fn dlmalloc_max_footprint() -> usize;
    /// The footprint limit in force; `usize::MAX` when there is none.
    pub fn dlmalloc_footprint_limit() -> usize;
    /// Sets the footprint limit (rounded up to pages; 0 or `usize::MAX`
    /// removes it) and returns the limit in force.
    pub fn dlmalloc_set_footprint_limit(bytes: usize) -> usize;
    /// The classic statistics report.
    pub fn dlmallinfo() -> MallInfo;
    /// Calls `handler` for every chunk of the heap, with the heap lock held
    /// (the handler must not allocate).
    pub fn dlmalloc_inspect_all(handler: Option<InspectHandler>, arg: *mut c_void);
    /// Allocates `n` adjacent zeroed blocks of `elem_size` bytes. When
    /// `chunks` is null the pointer array is allocated too.
    pub fn dlindependent_calloc(
        n: usize,
        elem_size: usize,
        chunks: *mut *mut c_void,
    ) -> *mut *mut c_void;
    /// Allocates `n` adjacent blocks of `sizes[i]` bytes (not zeroed). When
    /// `chunks` is null the pointer array is allocated too.
    pub fn dlindependent_comalloc(
        n: usize,
        sizes: *const usize,
        chunks: *mut *mut c_void,
    ) -> *mut *mut c_void;
    /// Frees the `n` pointers of `array` (null entries skipped), sets each
    /// entry to null, and returns how many could not be freed.
    pub fn dlbulk_free(array: *mut *mut c_void, n: usize) -> usize;
    /// Allocates up to `n` separate blocks of `bytes` bytes each (as `n`
    /// [`dlmalloc`] calls would) under one lock acquisition, into
    /// `array[0..k]`; returns `k`, fewer than `n` when memory runs out. An
    /// extension of this project (the thread cache refills with it).
    pub fn dlbulk_malloc(bytes: usize, array: *mut *mut c_void, n: usize) -> usize;
    /// Verifies every invariant of the global heap; returns the number of
    /// violations and calls `report` for each (with the heap lock held).
    pub fn dlmalloc_check(report: Option<CheckReport>, arg: *mut c_void) -> usize;
    /// Attaches `count` mspaces to the `dl*` API: a block at address `a`
    /// with `base <= a < base + (count << shift)` belongs to
    /// `heaps[(a - base) >> shift]` (null: that region has no heap yet; the
    /// caller fills the array as it creates them and keeps it alive; an
    /// attached heap must never be destroyed).
    /// [`dlfree`], [`dlrealloc`], [`dlrealloc_in_place`] and [`dlbulk_free`]
    /// then give such a block to its own heap, and [`dlmallinfo`],
    /// [`dlmalloc_footprint`], [`dlmalloc_max_footprint`] (the sum of each
    /// heap's peak), [`dlmalloc_trim`], [`dlmalloc_check`] and
    /// [`dlmalloc_inspect_all`] cover the attached heaps too, and the global
    /// footprint limit bounds them all together (two heaps growing at the
    /// same moment may overshoot it by one growth). Once per process: 0, or
    /// -1 if the arguments are invalid, heaps are attached already or the
    /// core was built with the feature `no-attached-heaps`. An extension of
    /// this project: the safe crate's per-thread arenas attach themselves.
    pub fn dlmalloc_attach_heaps(
        base: *mut c_void,
        count: usize,
        shift: c_uint,
        heaps: *const *mut c_void,
    ) -> c_int;
    /// Creates an independent heap of at least `capacity` bytes (0: one
    /// granularity) in a fresh mapping; it grows with more mappings. With
    /// `locked` non-zero its operations take a lock. Null on failure.
    pub fn create_mspace(capacity: usize, locked: c_int) -> Mspace;
    /// Creates a heap inside caller memory `[base, base + capacity)`, which
    /// the heap never gives to `custom_munmap`. It grows with new mappings
    /// when full unless its footprint limit forbids it. Null if the region
    /// cannot hold the heap's state.
    pub fn create_mspace_with_base(base: *mut c_void, capacity: usize, locked: c_int) -> Mspace;
    /// Like [`create_mspace`], but every page of the heap (segments and
    /// large chunks' own mappings) comes from `map(context, length)` and
    /// goes back through `unmap(context, base, length)` instead of the
    /// platform's `custom_mmap`/`custom_munmap`, under the same contract:
    /// `map` returns page-aligned memory or null; `unmap` gets a whole
    /// mapping or a page-aligned tail of one and returns 0 once it released
    /// the range (otherwise the heap keeps using it, so nothing in it may
    /// change). Both run with the heap's lock held and must not call into
    /// this heap; `custom_mremap` is not used for it. Null if the first
    /// mapping fails.
    pub fn create_mspace_with_source(
        capacity: usize,
        locked: c_int,
        map: Option<unsafe extern "C" fn(context: *mut c_void, length: usize) -> *mut c_void>,
        unmap: Option<
            unsafe extern "C" fn(context: *mut c_void, base: *mut c_void, length: usize) -> c_int,
        >,
        context: *mut c_void,
    ) -> Mspace;
    /// Releases every mapping of the heap (segments and large chunks) and
    /// returns the bytes released. The handle and all its blocks die.
    pub fn destroy_mspace(msp: Mspace) -> usize;
    /// With `enable` non-zero, large requests come from the heap's segments
    /// instead of their own mappings. Returns the previous setting.
    pub fn mspace_track_large_chunks(msp: Mspace, enable: c_int) -> c_int;
    /// [`dlmalloc`] on `msp`.
    pub fn mspace_malloc(msp: Mspace, bytes: usize) -> *mut c_void;
    /// [`dlfree`] on `msp`. With the `footers` feature, a block of another
    /// heap is detected and reported through `custom_abort`.
    pub fn mspace_free(msp: Mspace, mem: *mut c_void);
    /// [`dlcalloc`] on `msp`.
    pub fn mspace_calloc(msp: Mspace, count: usize, elem_size: usize) -> *mut c_void;
    /// [`dlrealloc`] on `msp`.
    pub fn mspace_realloc(msp: Mspace, mem: *mut c_void, bytes: usize) -> *mut c_void;
    /// [`dlrealloc_in_place`] on `msp`.
    pub fn mspace_realloc_in_place(msp: Mspace, mem: *mut c_void, bytes: usize) -> *mut c_void;
    /// [`dlmemalign`] on `msp`.
    pub fn mspace_memalign(msp: Mspace, alignment: usize, bytes: usize) -> *mut c_void;
    /// [`dlindependent_calloc`] on `msp`.
    pub fn mspace_independent_calloc(
        msp: Mspace,
        n: usize,
        elem_size: usize,
        chunks: *mut *mut c_void,
    ) -> *mut *mut c_void;
    /// [`dlindependent_comalloc`] on `msp`.
    pub fn mspace_independent_comalloc(
        msp: Mspace,
        n: usize,
        sizes: *const usize,
        chunks: *mut *mut c_void,
    ) -> *mut *mut c_void;
    /// [`dlbulk_free`] on `msp`.
    pub fn mspace_bulk_free(msp: Mspace, array: *mut *mut c_void, n: usize) -> usize;
    /// [`dlbulk_malloc`] on `msp`.
    pub fn mspace_bulk_malloc(
        msp: Mspace,
        bytes: usize,
        array: *mut *mut c_void,
        n: usize,
    ) -> usize;
    /// [`dlmalloc_trim`] on `msp`.
    pub fn mspace_trim(msp: Mspace, pad: usize) -> c_int;
    /// [`dlmalloc_usable_size`] (the heap is not needed).
    pub fn mspace_usable_size(mem: *const c_void) -> usize;
    /// [`dlmalloc_footprint`] of `msp`.
    pub fn mspace_footprint(msp: Mspace) -> usize;
    /// [`dlmalloc_max_footprint`] of `msp`.
    pub fn mspace_max_footprint(msp: Mspace) -> usize;
    /// [`dlmalloc_footprint_limit`] of `msp`.
    pub fn mspace_footprint_limit(msp: Mspace) -> usize;
    /// [`dlmalloc_set_footprint_limit`] on `msp`.
    pub fn mspace_set_footprint_limit(msp: Mspace, bytes: usize) -> usize;
    /// [`dlmallinfo`] of `msp`.
    pub fn mspace_mallinfo(msp: Mspace) -> MallInfo;
    /// [`dlmallopt`]: the parameters are process-wide.
    pub fn mspace_mallopt(param: c_int, value: c_int) -> c_int;
    /// [`dlmalloc_inspect_all`] on `msp`.
    pub fn mspace_inspect_all(msp: Mspace, handler: Option<InspectHandler>, arg: *mut c_void);
    /// [`dlmalloc_check`] on `msp`.
    pub fn mspace_check(msp: Mspace, report: Option<CheckReport>, arg: *mut c_void) -> usize;
    /// For `pthread_atfork` "prepare": takes the locks of the global heap and
    /// of every locked mspace.
    pub fn dlmalloc_atfork_prepare();
    /// For `pthread_atfork` "parent": releases them.
    pub fn dlmalloc_atfork_parent();
    /// For `pthread_atfork` "child": re-initialises them.
    pub fn dlmalloc_atfork_child();
}
