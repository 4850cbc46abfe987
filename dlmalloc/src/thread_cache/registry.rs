//! Every live thread cache, so one thread can empty them all: for an exact
//! view (statistics, trim, heap check), and around `fork` (Linux).
//!
//! The owner of a cache uses it with plain loads and stores, never a locked
//! instruction: it marks itself `busy`, then reads `flush_requested`, and
//! only touches its bins if no flush is requested. A flusher sets
//! `flush_requested` on every cache, then runs `membarrier` (Linux) or
//! `FlushProcessWriteBuffers` (Windows), which makes every running thread
//! of the process execute a full memory barrier. After
//! that, each owner either had already published `busy` (and the flusher
//! waits for it to clear) or will see the request (and keeps off its bins,
//! going to the locked heap instead). This is the asymmetric form of
//! Dekker's protocol: the rare side (the flusher) pays the barrier, the
//! common side (every allocation) pays nothing.
//!
//! The list and the flusher's work are serialised by a small spin lock that
//! yields; it is taken only when a thread registers or exits and by a
//! flush, never on an allocation.

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use super::{ThreadCache, os};

/// The list of registered caches (intrusive, through `ThreadCache::links`).
struct Registry {
    locked: AtomicBool,
    head: UnsafeCell<*const ThreadCache>,
}

// SAFETY: `head` and every cache's links are only touched with `locked` held.
unsafe impl Sync for Registry {}

static REGISTRY: Registry = Registry {
    locked: AtomicBool::new(false),
    head: UnsafeCell::new(ptr::null()),
};

fn lock() {
    while REGISTRY
        .locked
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::thread::yield_now();
    }
}

fn unlock() {
    REGISTRY.locked.store(false, Ordering::Release);
}

/// Whether this process may use thread caches: the barrier must work (it is
/// what lets a flusher stop the owners). Decided once.
pub(super) fn caches_available() -> bool {
    const UNKNOWN: u8 = 0;
    const AVAILABLE: u8 = 1;
    const UNAVAILABLE: u8 = 2;
    static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
    match STATE.load(Ordering::Acquire) {
        AVAILABLE => true,
        UNAVAILABLE => false,
        _ => {
            let available = os::register_barrier() && register_fork_handlers();
            STATE.store(
                if available { AVAILABLE } else { UNAVAILABLE },
                Ordering::Release,
            );
            available
        }
    }
}

/// A full memory barrier on every running thread of this process.
fn barrier_on_all_threads() {
    if !os::barrier_on_all_threads() {
        // Registered yet refused: nothing else can stop the owners safely.
        super::abort(c"thread cache: membarrier failed after registration");
    }
}

/// Installs the fork handlers (where the system has `fork`): they stop the
/// caches before the heap locks are taken and empty dead threads' caches
/// in the child (see [`os::at_fork`] for their order).
fn register_fork_handlers() -> bool {
    os::at_fork(before_fork, after_fork_parent, after_fork_child)
}

/// Adds `cache` to the list.
///
/// # Safety
///
/// `cache` stays valid until [`unregister`] removes it.
pub(super) unsafe fn register(cache: *const ThreadCache) {
    lock();
    // SAFETY: the lock is held; `cache` is valid (contract) and not listed.
    unsafe {
        let head = *REGISTRY.head.get();
        (*cache).links.set((ptr::null(), head));
        if !head.is_null() {
            let (_, next) = (*head).links.get();
            (*head).links.set((cache, next));
        }
        *REGISTRY.head.get() = cache;
        // SAFETY: the lock is held.
        (*cache)
            .arena
            .set(super::arenas::take().unwrap_or(super::NO_ARENA));
    }
    unlock();
}

/// Gives a registered cache without an arena one, if one can be had now.
///
/// # Safety
///
/// `cache` is registered and belongs to the calling thread.
pub(super) unsafe fn take_arena(cache: *const ThreadCache) {
    lock();
    // SAFETY: the lock is held; only this thread sets its cache's arena.
    unsafe {
        if (*cache).arena.get() == super::NO_ARENA {
            (*cache)
                .arena
                .set(super::arenas::take().unwrap_or(super::NO_ARENA));
        }
    }
    unlock();
}

/// Lets go of the cache's arena.
///
/// # Safety
///
/// The registry lock is held, and the arena's thread is gone or done
/// with it.
unsafe fn release_arena(cache: *const ThreadCache) {
    // SAFETY: `cache` is valid (caller) and the lock is held.
    unsafe {
        let arena = (*cache).arena.replace(super::NO_ARENA);
        if arena != super::NO_ARENA {
            super::arenas::release(arena);
        }
    }
}

/// Removes `cache` from the list; afterwards no flusher touches it.
///
/// # Safety
///
/// `cache` was registered and not yet removed.
pub(super) unsafe fn unregister(cache: *const ThreadCache) {
    lock();
    // SAFETY: the lock is held and `cache` is listed.
    unsafe { unlink(cache) };
    unlock();
}

/// Lets go of the thread's arena once its cache is given back.
///
/// # Safety
///
/// `cache` was unregistered and its thread is exiting.
pub(super) unsafe fn leave_arena(cache: *const ThreadCache) {
    lock();
    // SAFETY: the lock is held; the thread is done with the arena.
    unsafe { release_arena(cache) };
    unlock();
}

/// # Safety
///
/// The registry lock is held and `cache` is listed.
unsafe fn unlink(cache: *const ThreadCache) {
    // SAFETY: listed caches are valid while the lock is held.
    unsafe {
        let (prev, next) = (*cache).links.get();
        if prev.is_null() {
            *REGISTRY.head.get() = next;
        } else {
            let (before, _) = (*prev).links.get();
            (*prev).links.set((before, next));
        }
        if !next.is_null() {
            let (_, after) = (*next).links.get();
            (*next).links.set((prev, after));
        }
        (*cache).links.set((ptr::null(), ptr::null()));
    }
}

/// Calls `f` on every listed cache.
///
/// # Safety
///
/// The registry lock is held.
unsafe fn for_each(mut f: impl FnMut(*const ThreadCache)) {
    // SAFETY: the lock is held, so the list and its caches stay valid.
    let mut at = unsafe { *REGISTRY.head.get() };
    while !at.is_null() {
        // SAFETY: as above.
        let (_, next) = unsafe { (*at).links.get() };
        f(at);
        at = next;
    }
}

/// Stops every owner: after this, no cache is in use and none will be
/// until [`resume_all`].
///
/// # Safety
///
/// The registry lock is held.
unsafe fn stop_all() {
    // SAFETY: the lock is held (contract).
    unsafe { for_each(|cache| (*cache).flush_requested.store(true, Ordering::Relaxed)) };
    barrier_on_all_threads();
    // SAFETY: as above.
    unsafe {
        for_each(|cache| {
            while (*cache).busy.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
        })
    };
}

/// # Safety
///
/// The registry lock is held.
unsafe fn resume_all() {
    // SAFETY: the lock is held (contract).
    unsafe { for_each(|cache| (*cache).flush_requested.store(false, Ordering::Release)) };
}

/// Gives every thread's cached blocks back to the heaps, and frees what
/// waits on the arenas' remote lists, so the core's statistics, trim and
/// heap check see exactly what the program holds.
pub(crate) fn flush_all() {
    if !caches_available() {
        return;
    }
    lock();
    // SAFETY: the lock is held; once stopped, no owner touches its bins, so
    // the flusher may empty them.
    unsafe {
        stop_all();
        for_each(|cache| (*cache).give_back_all());
        resume_all();
    }
    unlock();
    super::drain_all_remote();
}

/// Whether any thread's cache holds `block` now. Every owner is stopped
/// while its lists are searched; they stay as they are.
pub(super) fn any_cache_holds(block: *mut u8) -> bool {
    if !caches_available() {
        return false;
    }
    let mut found = false;
    lock();
    // SAFETY: the lock is held; once stopped, no owner touches its bins,
    // so the search reads them unchanged.
    unsafe {
        stop_all();
        for_each(|cache| found = found || (*(*cache).bins.get()).holds(block));
        resume_all();
    }
    unlock();
    found
}

extern "C" fn before_fork() {
    lock();
    // SAFETY: the lock is held; it stays held across the fork.
    unsafe { stop_all() };
}

extern "C" fn after_fork_parent() {
    // SAFETY: the lock is held since `before_fork`.
    unsafe { resume_all() };
    unlock();
}

/// In the child only the forking thread lives on: the other threads'
/// caches will never be used or flushed by their owners, so their blocks
/// go back to the heap and the caches leave the list.
extern "C" fn after_fork_child() {
    let own = super::current_cache();
    // SAFETY: the lock is held since `before_fork`; the owners of the other
    // caches do not exist in the child, and their memory is still mapped.
    unsafe {
        for_each(|cache| {
            if cache != own {
                release_arena(cache);
                (*cache).give_back_all();
                unlink(cache);
            }
        });
        resume_all();
    }
    unlock();
}
