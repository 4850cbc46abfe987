//! A per-thread cache of small free blocks in front of the locked global
//! heap (feature `thread-cache`, Linux and Windows): the common allocation
//! and free of a block up to
//! [`MAX_CACHED_REQUEST`](bins::MAX_CACHED_REQUEST) bytes take no lock and no
//! atomic read-modify-write.
//!
//! Why here, in the safe crate: the cache needs thread-local storage with a
//! destructor at thread exit, and a way to stop other threads' caches
//! (`membarrier` on Linux, `FlushProcessWriteBuffers` on Windows); Rust's
//! `thread_local!` and the system's API ([`os`]) give both without new C
//! hooks, so the C core and every existing platform stay unchanged, and
//! [`DLMalloc`](crate::DLMalloc)'s fast path is inlined into the program
//! without an FFI call. Code that calls the C API directly (`raw::dlmalloc`)
//! bypasses the cache, which is harmless: a cached block is, for the core,
//! an in-use chunk, so blocks may be freed through either path.
//!
//! Size classes: one per chunk size up to 1 KiB requests, then eight per
//! doubling up to 32 KiB (rounding wastes under 12.5% of a request, about
//! 4% on average); see [`bins`].
//!
//! Bounds: at most [`MAX_PER_CLASS`](bins::MAX_PER_CLASS) blocks per size
//! class (fewer for large classes: 128 KiB per class) and 512 KiB per
//! thread; a miss in a class up to 1 KiB refills it with 8 blocks in one
//! locked call (a larger class takes just the block it needs), a full
//! class gives its older half back in one locked bulk free, and a thread
//! that only frees (about 4096 small blocks in a row, fewer large ones)
//! gives its cache back and bypasses it until it allocates again. A thread's
//! cache goes back to the heap when the thread exits, and every cache does
//! before [`DLMalloc`](crate::DLMalloc) computes statistics, trims or
//! checks the heap (see [`registry`]).
//! Frees from another thread than the allocating one are fine: the block
//! joins the freeing thread's cache; when it leaves that cache it goes onto
//! its arena's remote list, which the arena's own thread takes into its
//! cache on its next miss (see [`arenas`]).

mod arenas;
mod bins;
mod os;
mod region;
mod registry;
mod remote;
// They allocate through the C core, which Miri cannot run.
#[cfg(all(test, not(miri)))]
mod tests;

use core::cell::{Cell, UnsafeCell};
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, Ordering, compiler_fence};

use bins::{
    Bins, Corruption, MAX_CACHED_REQUEST, Pushed, class_for_free, class_for_request, class_request,
    is_exact,
};
pub(crate) use registry::flush_all;

/// One thread's cache and its registration.
pub(crate) struct ThreadCache {
    /// Set by the owner while it uses `bins`.
    busy: AtomicBool,
    /// Set by a flusher: the owner keeps off `bins` until it is cleared.
    flush_requested: AtomicBool,
    /// [`UNREGISTERED`], [`REGISTERED`] (listed in the registry) or
    /// [`GONE`] (the thread is exiting); owner only.
    state: Cell<u8>,
    /// (previous, next) in the registry's list; registry lock only.
    links: Cell<(*const ThreadCache, *const ThreadCache)>,
    /// The blocks: owner only, or a flusher once the owner is stopped.
    bins: UnsafeCell<Bins>,
    /// The arena this thread's misses go to ([`NO_ARENA`]: the global
    /// heap); set and cleared under the registry lock.
    arena: Cell<usize>,
}

/// [`ThreadCache::arena`] when the thread has none.
const NO_ARENA: usize = usize::MAX;

/// [`ThreadCache::state`]: not yet used.
const UNREGISTERED: u8 = 0;
/// [`ThreadCache::state`]: listed in the registry, in use.
const REGISTERED: u8 = 1;
/// [`ThreadCache::state`]: given back at thread exit; the thread's last
/// allocations go to the heaps directly.
const GONE: u8 = 2;
/// [`ThreadCache::state`]: registering. Arming the exit hook may allocate
/// (glibc's `__cxa_thread_atexit_impl` calls `calloc`, which is this
/// allocator when C's `malloc` is ours: crate `dlmalloc-libc`); those
/// allocations go to the heaps directly instead of registering again.
const REGISTERING: u8 = 3;

impl ThreadCache {
    const fn new() -> ThreadCache {
        ThreadCache {
            busy: AtomicBool::new(false),
            flush_requested: AtomicBool::new(false),
            state: Cell::new(UNREGISTERED),
            links: Cell::new((core::ptr::null(), core::ptr::null())),
            bins: UnsafeCell::new(Bins::new()),
            arena: Cell::new(NO_ARENA),
        }
    }

    /// Runs `use_bins` on the bins if this thread may use them now; `None`
    /// sends the caller to the locked heap.
    #[inline]
    fn with_bins<R>(&self, use_bins: impl FnOnce(&mut Bins) -> R) -> Option<R> {
        if self.state.get() != REGISTERED && !self.register() {
            return None;
        }
        self.busy.store(true, Ordering::Relaxed);
        // Keeps the compiler from moving the read below above the store; the
        // hardware's reordering is the flusher's barrier's business.
        compiler_fence(Ordering::SeqCst);
        if self.flush_requested.load(Ordering::Acquire) {
            self.busy.store(false, Ordering::Release);
            return None;
        }
        // SAFETY: `busy` is published and no flush is requested, so no
        // flusher touches the bins until `busy` clears (registry protocol);
        // only this thread runs here.
        let result = use_bins(unsafe { &mut *self.bins.get() });
        self.busy.store(false, Ordering::Release);
        Some(result)
    }

    /// Lists this cache in the registry, on the thread's first small
    /// allocation. `false` if caches cannot be used in this process, or no
    /// more in this thread (it is exiting).
    #[cold]
    fn register(&self) -> bool {
        if self.state.get() != UNREGISTERED {
            return false;
        }
        self.state.set(REGISTERING);
        if !registry::caches_available() {
            self.state.set(UNREGISTERED);
            return false;
        }
        // Arms the thread-exit hook; it fails once the thread's storage is
        // being torn down, and then the cache stays unused.
        if EXIT_HOOK.try_with(|_| ()).is_err() {
            self.state.set(GONE);
            return false;
        }
        // SAFETY: not yet registered, so no flusher can reach the bins;
        // only this thread runs here.
        unsafe { (*self.bins.get()).set_secret(secret()) };
        // SAFETY: the cache lives in this thread's storage until the
        // thread ends, after the exit hook unregistered it.
        unsafe { registry::register(self) };
        self.state.set(REGISTERED);
        true
    }

    /// Gives every cached block back to the heap.
    ///
    /// Called by the owner at exit, or by a flusher that has stopped the owner.
    fn give_back_all(&self) {
        // SAFETY: the caller has exclusive use of the bins (owner at exit, or
        // stopped owner).
        let lists = unsafe { (*self.bins.get()).take_all() };
        let arena = self.arena.get();
        give_back_lists(lists, (arena != NO_ARENA).then_some(arena));
    }

    /// Gives the cache and the arena back as the thread exits.
    fn exit(&self) {
        if self.state.replace(GONE) == REGISTERED {
            // SAFETY: registered and not yet removed; after this no flusher
            // can reach the cache, so its bins are the owner's alone.
            unsafe { registry::unregister(self) };
            self.give_back_all();
            // SAFETY: unregistered; the thread is exiting.
            unsafe { registry::leave_arena(self) };
        }
    }
}

/// Runs [`ThreadCache::exit`] when the thread's storage is torn down.
struct ExitHook;

impl Drop for ExitHook {
    fn drop(&mut self) {
        CACHE.with(ThreadCache::exit);
    }
}

std::thread_local! {
    /// The thread's cache. It has no destructor of its own (the exit hook
    /// empties it), so reaching it costs no check of a lazily registered
    /// destructor's state: the hit path is a plain thread-local access.
    static CACHE: ThreadCache = const { ThreadCache::new() };
    /// Armed when the cache registers.
    static EXIT_HOOK: ExitHook = const { ExitHook };
}

/// This thread's cache.
fn current_cache() -> *const ThreadCache {
    CACHE.with(|cache| cache as *const ThreadCache)
}

/// This thread's arena, if its cache took one.
#[inline]
fn registered_arena() -> Option<usize> {
    let arena = CACHE.with(|cache| cache.arena.get());
    (arena != NO_ARENA).then_some(arena)
}

/// Tries again to give this registered thread an arena: it got none when
/// it registered because none could be created then (the footprint limit
/// was reached). Runs on cache misses, which take a lock anyway.
#[cold]
fn take_arena_late() -> Option<usize> {
    if !arenas::reserved() {
        return None;
    }
    let arena = CACHE.with(|cache| {
        // SAFETY: the cache is this thread's and registered (a refill runs
        // only then).
        unsafe { registry::take_arena(cache) };
        cache.arena.get()
    });
    (arena != NO_ARENA).then_some(arena)
}

/// This thread's arena, if it has one, registering the thread's cache
/// (which takes an arena) if that was not done yet.
#[inline]
fn arena_to_allocate() -> Option<usize> {
    let arena = CACHE.with(|cache| {
        if cache.state.get() != REGISTERED {
            cache.register();
        }
        cache.arena.get()
    });
    (arena != NO_ARENA).then_some(arena)
}

/// Requests above the cache's range that still come from the thread's
/// arena rather than the global heap: up to half the core's default
/// threshold for a mapping of their own, so that an arena never maps a
/// block on its own unless the program lowers that threshold.
const MAX_ARENA_REQUEST: usize = 128 << 10;

/// Whether requests of `size` bytes and `align` alignment may come from an
/// arena (the cache's sizes and up to [`MAX_ARENA_REQUEST`]). Larger
/// blocks belong in the global heap, which can grow a mapped block in place
/// (`custom_mremap`); an arena cannot.
#[inline]
pub(crate) fn arena_serves(size: usize, align: usize) -> bool {
    size <= MAX_ARENA_REQUEST && align <= dlmalloc_sys::MALLOC_ALIGNMENT
}

/// A block for `layout` from this thread's arena when the cache does not
/// serve it but an arena does (up to [`MAX_ARENA_REQUEST`] bytes, default
/// alignment), readied as [`prepare`] does; null otherwise, or when the
/// arena cannot grow (the caller then goes to the global heap).
#[inline]
pub(crate) fn alloc_in_arena(layout: core::alloc::Layout) -> *mut u8 {
    if !arena_serves(layout.size(), layout.align()) {
        return core::ptr::null_mut();
    }
    let Some(arena) = arena_to_allocate() else {
        return core::ptr::null_mut();
    };
    let block = arenas::malloc(arena, layout.size(), secret());
    // SAFETY: a fresh block (or null) of more than two words.
    unsafe { prepare(block) };
    block
}

/// A cached block of `size` bytes (`1..=MAX_CACHED_REQUEST`) if this
/// thread's cache holds one now; null otherwise (a miss, or a cache not
/// yet set up), and the caller then goes to [`alloc`]. The hit path alone,
/// with no call that returns (registering the thread is left to
/// [`alloc`]), so that the caller's fast path needs no saved registers.
#[inline]
pub(crate) fn take(size: usize) -> *mut u8 {
    let class = class_for_request(size);
    let taken = CACHE.with(|cache| {
        if cache.state.get() != REGISTERED {
            return None;
        }
        cache.with_bins(|bins| {
            // SAFETY: the bins hold only cached blocks of the heaps.
            unsafe { bins.pop(class) }
        })
    });
    match taken {
        Some(Ok(block)) => block,
        Some(Err(corruption)) => report(corruption),
        None => core::ptr::null_mut(),
    }
}

/// Keeps `block` (allocated with a request of `size` bytes,
/// `1..=MAX_CACHED_REQUEST`) in this thread's cache if that needs nothing
/// else (see `Bins::try_push`); `false` leaves it to [`free`]. The common
/// free alone, with no call that returns.
///
/// # Safety
///
/// As for [`free`].
#[inline]
pub(crate) unsafe fn keep(block: *mut u8, size: usize) -> bool {
    // SAFETY: a live block of the heaps allocated with `size` bytes
    // (contract).
    let Some(class) = (unsafe { class_for_free(block, size) }) else {
        return false;
    };
    let kept = CACHE.with(|cache| {
        // Registering the thread is left to `free`.
        if cache.state.get() != REGISTERED {
            return None;
        }
        cache.with_bins(|bins| {
            // SAFETY: `block` is a live block of the class that the caller
            // gives up (contract); the bins hold only cached blocks.
            unsafe { bins.try_push(block, class) }
        })
    });
    match kept {
        Some(Ok(kept)) => kept,
        Some(Err(Corruption::Tagged)) => {
            // SAFETY: as above.
            unsafe { settle_tagged(block) };
            false
        }
        Some(Err(corruption)) => report(corruption),
        None => false,
    }
}

/// A block of `size` bytes (`1..=MAX_CACHED_REQUEST`) from this thread's
/// cache, which refills an empty class from the heap in one locked call.
/// Null when the cache cannot be used now or memory is exhausted (the
/// caller then goes to the heap itself).
#[inline]
pub(crate) fn alloc(size: usize) -> *mut u8 {
    let class = class_for_request(size);
    let taken = CACHE.with(|cache| {
        cache.with_bins(|bins| {
            // SAFETY: the bins hold only cached blocks of the heaps.
            unsafe { bins.pop(class) }
        })
    });
    match taken {
        Some(Ok(block)) if block.is_null() => refill(class),
        Some(Ok(block)) => block,
        Some(Err(corruption)) => report(corruption),
        None => core::ptr::null_mut(),
    }
}

/// Blocks a refill of an exact class (up to 1 KiB) takes from the heap at
/// once: one is returned, the rest are cached, so misses cost one lock
/// acquisition per `REFILL` blocks. A stepped class (above 1 KiB) takes one
/// block: large blocks of one class rarely come in runs, and extra ones
/// only went back to the heap later (random 1-64 KiB churn ran 897
/// instructions a step with batches, 598 without, and 725 with no cache
/// above 1 KiB at all).
const REFILL: usize = 8;

/// Serves a miss in `class`: takes its refill of blocks from the heap under
/// one lock acquisition, returns one and caches the others (those the
/// thread's byte bound does not admit go back).
#[cold]
fn refill(class: usize) -> *mut u8 {
    if let Some(arena) = registered_arena() {
        let reused = reuse_queued(arena, class);
        if !reused.is_null() {
            return reused;
        }
    }
    let mut fresh = [core::ptr::null_mut::<u8>(); REFILL];
    let wanted = if is_exact(class) { REFILL } else { 1 };
    // The request is the largest of the class, so every block holds it.
    let request = class_request(class);
    let mut taken = match registered_arena().or_else(take_arena_late) {
        Some(arena) => arenas::bulk_malloc(arena, request, &mut fresh[..wanted], secret()),
        None => 0,
    };
    if taken == 0 {
        // No arena, or it cannot grow: the global heap serves.
        // SAFETY: the array has room for `wanted` <= REFILL pointers.
        taken = unsafe {
            dlmalloc_sys::dlbulk_malloc(request, fresh.as_mut_ptr().cast::<*mut c_void>(), wanted)
        };
    }
    if taken == 0 {
        return core::ptr::null_mut();
    }
    let admitted = CACHE
        .with(|cache| {
            cache.with_bins(|bins| {
                // SAFETY: fresh blocks of the class, handed to no one else.
                unsafe { bins.adopt_fresh(&fresh[1..taken], class) }
            })
        })
        .unwrap_or(0);
    bulk_free(&mut fresh[1 + admitted..taken], registered_arena());
    // SAFETY: a fresh block of a size the cache serves.
    unsafe { prepare(fresh[0]) };
    fresh[0]
}

/// Serves a miss in `class` from the blocks other threads freed for this
/// thread's arena `arena`, if any wait: they join this cache as far as its
/// bounds admit, and only the rest go back to the arena under its lock. So
/// a thread whose blocks another thread frees (a producer and its consumer)
/// takes no lock in the steady state. Returns a block of `class`, or null.
fn reuse_queued(arena: usize, class: usize) -> *mut u8 {
    let queued = arenas::take_remote(arena);
    if queued.is_null() {
        return core::ptr::null_mut();
    }
    let secret = secret();
    let adopted = CACHE.with(|cache| {
        cache.with_bins(|bins| {
            // SAFETY: the list was taken from this thread's arena; the bins
            // hold only cached blocks.
            unsafe {
                let rest =
                    bins.adopt_queued(queued, |block| arenas::may_queue_for(arena, block))?;
                Ok((rest, bins.pop(class)?))
            }
        })
    });
    match adopted {
        Some(Ok((rest, block))) => {
            arenas::free_queued(arena, rest, secret);
            block
        }
        Some(Err(corruption)) => report(corruption),
        None => {
            // The cache cannot be used now (a flush is under way).
            arenas::free_queued(arena, queued, secret);
            core::ptr::null_mut()
        }
    }
}

/// Keeps `block` (allocated with a request of `size` bytes,
/// `1..=MAX_CACHED_REQUEST`) in this thread's cache. Returns `false` if the
/// cache cannot take it; the caller then frees it to the heap.
///
/// # Safety
///
/// `block` is a live block of the global heap, allocated (or last
/// reallocated) with a request of `size` bytes, that the caller gives up.
#[inline]
pub(crate) unsafe fn free(block: *mut u8, size: usize) -> bool {
    // SAFETY: a live block of the global heap allocated with `size` bytes
    // (contract).
    let Some(class) = (unsafe { class_for_free(block, size) }) else {
        return false;
    };
    let pushed = CACHE.with(|cache| {
        cache.with_bins(|bins| {
            // SAFETY: `block` is a live block of the class that the caller
            // gives up (contract); the bins hold only cached blocks.
            unsafe { bins.push(block, class) }
        })
    });
    match pushed {
        Some(Ok(Pushed::Cached)) => true,
        Some(Ok(Pushed::CachedEvicting(evicted))) => {
            give_back_list(evicted, registered_arena());
            true
        }
        Some(Ok(Pushed::RefusedDrainAll)) => {
            give_back_own_cache();
            false
        }
        Some(Ok(Pushed::Refused)) | None => false,
        Some(Err(Corruption::Tagged)) => {
            // SAFETY: as above.
            unsafe { settle_tagged(block) };
            false
        }
        Some(Err(corruption)) => report(corruption),
    }
}

/// Settles a free of `block` that found it carrying the given-up tag
/// ([`Corruption::Tagged`]): either the block is cached or queued already
/// (a double free), or the program's own data in its second word equal
/// the tag (one chance in 2^64 for a random value, but a fuzzer that
/// watches comparisons learns the tag and writes it). So every thread's
/// cache is searched (each stopped for it), and the remote list of the
/// block's arena, the only one it can be queued on, is drained. Found, the
/// free is a double free and the process ends naming it; not found, the
/// tag is cleared and the caller goes on freeing the block. A double free
/// whose first free is still on its way out of another thread's cache (a
/// list that thread has detached and not yet freed) can go unseen. A
/// correct program takes this path about never.
///
/// # Safety
///
/// `block` is a block of the heaps that the caller is freeing, live unless
/// this is a double free.
#[cold]
#[inline(never)]
unsafe fn settle_tagged(block: *mut u8) {
    let secret = secret();
    if registry::any_cache_holds(block)
        || arenas::owner_of(block)
            .is_some_and(|arena| arenas::drain_remote_finding(arena, block, secret))
    {
        report(Corruption::DoubleFree);
    }
    // SAFETY: a live block (it is in no cache or list) that the caller
    // frees; its second word is no longer the program's.
    unsafe { prepare(block) };
}

/// Gives this thread's whole cache back to the heap (it is freeing much
/// more than it allocates). The lists are detached under the owner's
/// protocol (a flusher may be emptying the same bins), then freed outside
/// it, since freeing takes the heap's lock.
#[cold]
fn give_back_own_cache() {
    let lists = CACHE.with(|cache| cache.with_bins(Bins::take_all));
    if let Some(lists) = lists {
        give_back_lists(lists, registered_arena());
    }
}

/// Frees every list [`Bins::take_all`] detached from the cache of a thread
/// whose arena is `mine`.
fn give_back_lists(lists: [*mut u8; bins::CLASSES], mine: Option<usize>) {
    for first in lists {
        if !first.is_null() {
            give_back_list(first, mine);
        }
    }
}

/// Frees the blocks of a list that left the cache (the evicted half of a
/// full class, or a whole class) of the cache of a thread whose arena is
/// `mine`, with one locked bulk free (or one compare-and-swap) per heap.
#[cold]
fn give_back_list(first: *mut u8, mine: Option<usize>) {
    let mut batch = [core::ptr::null_mut::<u8>(); bins::MAX_PER_CLASS];
    let mut filled = 0;
    // SAFETY: `first` starts a list detached from the bins, which no one
    // else can reach; it has at most MAX_PER_CLASS blocks, the batch's size.
    let drained = unsafe {
        Bins::drain_list(first, secret(), |block| {
            batch[filled] = block;
            filled += 1;
        })
    };
    bulk_free(&mut batch[..filled], mine);
    if let Err(corruption) = drained {
        report(corruption);
    }
}

/// Readies a block that the heap (not the cache) just handed out for a
/// size the cache serves: its second word, which a later free into the
/// cache reads to recognise a double free, is given a defined value that
/// is not the cached tag. A program need not write every byte it
/// allocates, and reading memory nobody wrote is undefined behaviour (and a
/// Valgrind error). Null is ignored.
///
/// # Safety
///
/// `block` is null or a live block of at least two words that the caller
/// has not yet handed out, or whose second word the caller does not use.
#[inline]
pub(crate) unsafe fn prepare(block: *mut u8) {
    if !block.is_null() {
        // SAFETY: the block has at least two words (every chunk does) and
        // nobody reads its second word before this write (contract).
        unsafe { block.cast::<usize>().add(1).write(0) };
    }
}

/// Whether a realloc between two sizes the cache serves moves the block
/// through the cache (allocate, copy, free): when their classes differ. In
/// the same class the heap resizes the block itself (in place, or under
/// its lock when a block the heap handed out directly is too small).
#[inline]
pub(crate) fn moves_between(old_size: usize, new_size: usize) -> bool {
    class_for_request(old_size) != class_for_request(new_size)
}

/// Whether requests of `size` bytes and `align` alignment go through the
/// cache.
#[inline]
pub(crate) fn serves(size: usize, align: usize) -> bool {
    // `size - 1 < MAX_CACHED_REQUEST` (wrapping) is `1..=MAX_CACHED_REQUEST`
    // in one comparison.
    size.wrapping_sub(1) < MAX_CACHED_REQUEST && align <= dlmalloc_sys::MALLOC_ALIGNMENT
}

/// Frees blocks that a cache gave up, each to its heap (the global heap,
/// the arena `mine` of the thread whose cache they left, or another
/// arena's remote list), with one lock acquisition or compare-and-swap per
/// heap. Every entry must be an in-use block that no one uses any more,
/// with a defined second word (true of blocks leaving a cache, and of
/// fresh blocks of the global heap or of `mine`, which are never queued).
fn bulk_free(blocks: &mut [*mut u8], mine: Option<usize>) {
    // SAFETY: as above.
    let freed = unsafe { arenas::free_blocks(blocks, mine, secret()) };
    if let Err(corruption) = freed {
        report(corruption);
    }
}

/// Whether `block` belongs to an arena (rather than the global heap).
#[inline]
pub(crate) fn in_arena(block: *mut u8) -> bool {
    arenas::owner_of(block).is_some()
}

/// Frees a block of an arena that does not go into the cache.
///
/// # Safety
///
/// `block` is a live block of an arena ([`in_arena`]), with a defined
/// second word, that the caller gives up.
pub(crate) unsafe fn free_arena_block(block: *mut u8) {
    // Queued for another thread's arena, the block gets the given-up tag,
    // which must not be there already.
    // SAFETY: a live block with a defined second word (contract).
    if unsafe { bins::given_up(block, secret()) } {
        // SAFETY: a block of an arena, not mapped, that the caller frees.
        unsafe { settle_tagged(block) };
    }
    bulk_free(&mut [block], registered_arena());
}

/// Frees what other threads queued for every arena, so the heaps'
/// statistics and checks see every free.
pub(super) fn drain_all_remote() {
    let secret = secret();
    arenas::for_each_heap(|index, _| arenas::drain_remote(index, secret));
}

/// The per-process secret that masks cached links: random where the system
/// gives randomness, else derived from addresses (randomised by ASLR).
#[inline]
fn secret() -> usize {
    static SECRET: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
    let value = SECRET.load(Ordering::Relaxed);
    if value != 0 {
        return value;
    }
    init_secret(&SECRET)
}

#[cold]
fn init_secret(slot: &core::sync::atomic::AtomicUsize) -> usize {
    let mut random = os::random_word().unwrap_or_else(|| {
        let local = 0u8;
        (&raw const local).addr().rotate_left(29) ^ (slot as *const _ as usize)
    });
    random |= 1; // never 0, the "not yet chosen" value
    match slot.compare_exchange(0, random, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => random,
        Err(chosen) => chosen,
    }
}

/// Reports a corrupted cache through the platform's `custom_abort`.
fn report(corruption: Corruption) -> ! {
    abort(match corruption {
        Corruption::DoubleFree | Corruption::Tagged => {
            c"thread cache: double free (the block is already cached, or queued for its arena)"
        }
        Corruption::BrokenLink => {
            c"thread cache: corrupted free list (a freed block was written to, or a link was forged)"
        }
    })
}

/// Ends the process through the platform's `custom_abort`.
fn abort(message: &'static core::ffi::CStr) -> ! {
    // SAFETY: both strings are NUL-terminated and static; the platform
    // defines the hook, which never returns.
    unsafe { dlmalloc_sys::custom_abort(message.as_ptr(), c"thread_cache.rs".as_ptr(), line!()) }
}
