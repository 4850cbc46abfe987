//! System memory for the core: `custom_mmap`, `custom_munmap` and
//! `custom_page_size` over the module's linear memory.
//!
//! Pages are handed out from the free memory between `__heap_base` and the
//! current end of memory first (wasm32-unknown-unknown; on wasm32-wasip1
//! that memory belongs to wasi-libc's own `malloc`, see [`Fresh::start`]),
//! then from memory grown with `memory.grow`.
//! Linear memory only ever grows, so handing out is a bump of one address
//! ("next"), and consecutive mappings are adjacent (the core merges them
//! into one segment).

use core::arch::wasm32;
use core::ffi::c_void;
use core::hint;
use core::ptr;

#[cfg(target_feature = "atomics")]
use crate::lock::SpinLock;
use crate::{PAGE_SIZE, WASM_PAGE_SIZE};

unsafe extern "C" {
    /// The first byte after the module's static data and stack, placed by
    /// the linker: the free memory starts here. Only its address is used.
    static __heap_base: u8;
}

/// Where the fresh memory is: `[next, end)` is free and ours; `next` is 0
/// until the first use.
struct Fresh {
    next: usize,
    end: usize,
    /// Where the first fresh memory started.
    first: usize,
    /// Bytes handed out to the core so far.
    handed_out: usize,
}

/// The lock of the state behind the hooks: several heaps may ask for pages
/// at once in a build with atomics. Without atomics there is one thread,
/// and no lock (the module is smaller without the loop).
#[cfg(target_feature = "atomics")]
static LOCK: SpinLock = SpinLock::new();
/// The state behind the hooks.
static mut FRESH: Fresh = Fresh {
    next: 0,
    first: 0,
    end: 0,
    handed_out: 0,
};

/// Runs `f` on the fresh-memory state, with its lock held.
fn with_fresh<R>(f: impl FnOnce(&mut Fresh) -> R) -> R {
    #[cfg(target_feature = "atomics")]
    LOCK.acquire();
    // SAFETY: FRESH is only accessed here, and the lock (or, without
    // atomics, the single thread) gives this caller exclusive access until
    // `release`.
    let result = f(unsafe { &mut *ptr::addr_of_mut!(FRESH) });
    #[cfg(target_feature = "atomics")]
    LOCK.release();
    result
}

/// The most wasm pages this platform lets memory reach: 65535. A 4 GiB
/// memory (65536 pages) would end at 2^32, which a wasm32 `usize` cannot
/// hold; the last page is left alone.
const MAX_PAGES: usize = usize::MAX / WASM_PAGE_SIZE;

/// The current end of linear memory, in bytes (saturated for a 4 GiB
/// memory, which only someone else can have grown).
fn memory_end() -> usize {
    wasm32::memory_size(0).saturating_mul(WASM_PAGE_SIZE)
}

impl Fresh {
    /// Sets `[next, end)` up on the first call.
    ///
    /// On wasm32-unknown-unknown: the memory after `__heap_base` (rounded
    /// up to [`PAGE_SIZE`]) to the end of memory, which nothing else uses.
    /// On wasm32-wasip1 the C library linked into every program has a
    /// `malloc` of its own (for the environment, the preopened folders and
    /// C code), and it claims that same memory on first use: so there this
    /// platform starts empty at the end of memory and takes only what it
    /// grows itself.
    fn start(&mut self) {
        if self.next == 0 {
            let end = memory_end();
            self.next = if cfg!(target_os = "wasi") {
                end
            } else {
                (ptr::addr_of!(__heap_base) as usize).next_multiple_of(PAGE_SIZE)
            };
            self.end = end.max(self.next);
            self.first = self.next;
        }
    }

    /// Makes at least `len` bytes fresh (the caller found fewer), growing
    /// memory by as few wasm pages as that needs. Returns false when
    /// `memory.grow` fails or would reach 4 GiB.
    fn grow_for(&mut self, len: usize) -> bool {
        // Someone else (wasi-libc's malloc, JavaScript) grew the memory
        // since we last looked: their pages are not ours, and our fresh tail
        // (shorter than this request) no longer joins new pages. Drop it.
        let now = memory_end();
        if now != self.end {
            self.next = now;
            self.end = now;
        }
        let missing = len - (self.end - self.next);
        let pages = missing.div_ceil(WASM_PAGE_SIZE);
        if pages > MAX_PAGES.saturating_sub(wasm32::memory_size(0)) {
            return false;
        }
        let old = wasm32::memory_grow(0, pages);
        if old == usize::MAX {
            return false;
        }
        let start = old * WASM_PAGE_SIZE;
        if start != self.end {
            // Another thread's grow slipped in between (shared memory
            // only): continue at our new pages. If they alone are too
            // short, they stay fresh for a later, smaller request.
            self.next = start;
        }
        self.end = start + pages * WASM_PAGE_SIZE;
        self.end - self.next >= len
    }

    /// `len` bytes from the fresh memory, growing it if needed.
    fn take(&mut self, len: usize) -> Option<usize> {
        self.start();
        if self.end - self.next < len && !self.grow_for(len) {
            return None;
        }
        let mem = self.next;
        self.next += len;
        self.handed_out += len;
        Some(mem)
    }
}

/// What [`custom_mmap`] returns on failure: `(void*)-1`, never null.
fn mmap_failed() -> *mut c_void {
    ptr::without_provenance_mut(usize::MAX)
}

/// The page size of this platform: [`PAGE_SIZE`], 4096 bytes.
///
/// Not the 64 KiB of `memory.grow`: the fresh memory is handed out in
/// 4 KiB steps, so a small module's heap grows in small steps (see the
/// README's "Page size"). The core looks this hook up weakly and uses it
/// for every length it passes to [`custom_mmap`] and [`custom_munmap`].
#[unsafe(no_mangle)]
pub extern "C" fn custom_page_size() -> usize {
    PAGE_SIZE
}

/// Hands out `len` bytes (rounded up to whole pages of [`PAGE_SIZE`]),
/// aligned to [`PAGE_SIZE`]: first from the free memory after
/// `__heap_base`, then from memory grown with `memory.grow`.
///
/// Returns `usize::MAX as *mut c_void` (`(void*)-1`) when `len` is 0 or
/// `memory.grow` fails (the module's maximum memory, or the engine's limit,
/// is reached), never null and never a trap: the allocation that needed the
/// pages returns null. Consecutive results are adjacent unless something
/// else grew the memory in between. The memory is not necessarily zeroed
/// (the core never gets memory it used before back from here, but the
/// memory after `__heap_base` may have been written by start-up code).
#[unsafe(no_mangle)]
pub extern "C" fn custom_mmap(len: usize) -> *mut c_void {
    // Referring to the `custom_page_size` symbol here is deliberate. The
    // core refers to it weakly, and a weak reference does not pull an object
    // file out of an archive: if `custom_page_size` sat alone in an object,
    // the linker could leave it out and the core would silently assume its
    // default. Calling it through its address (which the optimiser cannot
    // fold away) is a strong reference that links it whenever `custom_mmap`
    // is linked.
    let page_size: extern "C" fn() -> usize = hint::black_box(custom_page_size);
    debug_assert_eq!(page_size(), PAGE_SIZE);
    if len == 0 || len > usize::MAX - PAGE_SIZE {
        return mmap_failed();
    }
    let len = len.next_multiple_of(PAGE_SIZE);
    match with_fresh(|fresh| fresh.take(len)) {
        Some(mem) => ptr::with_exposed_provenance_mut(mem),
        None => mmap_failed(),
    }
}

/// Refuses to give memory back: returns -1 for every range.
///
/// Wasm linear memory cannot shrink. This crate builds the core with
/// `never-unmap`, so the core never calls this: its heaps keep their memory,
/// and it recycles a destroyed mspace's pages for the next heap itself. The
/// hook exists because the contract names it; after -1 a range would still
/// belong to the core.
#[unsafe(no_mangle)]
pub extern "C" fn custom_munmap(ptr: *mut c_void, len: usize) -> i32 {
    let _ = (ptr, len);
    -1
}

/// How this platform has used the module's linear memory so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryStats {
    /// Where the platform's memory starts: `__heap_base` rounded up to
    /// [`PAGE_SIZE`] on wasm32-unknown-unknown, the initial end of memory on
    /// wasm32-wasip1 (where the memory after `__heap_base` belongs to the C
    /// library's `malloc`).
    pub heap_start: usize,
    /// Bytes handed out to the core by [`custom_mmap`] (never given back).
    /// With only the global heap in use, this is its footprint.
    pub handed_out: usize,
    /// The size of linear memory now, in bytes (a multiple of
    /// [`WASM_PAGE_SIZE`]).
    pub memory_size: usize,
}

/// Reports how much memory the platform has handed out and how large linear
/// memory is now. Allocates nothing; safe to call at any time.
pub fn memory_stats() -> MemoryStats {
    with_fresh(|fresh| {
        fresh.start();
        MemoryStats {
            heap_start: fresh.first,
            handed_out: fresh.handed_out,
            memory_size: memory_end(),
        }
    })
}
