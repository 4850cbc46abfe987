//! System memory for the core: `custom_mmap`, `custom_munmap` and
//! `custom_page_size`, serving pages from a fixed pool.
//!
//! The pool is a static, page-aligned array of [`POOL_BYTES`] bytes, cut
//! into [`POOL_PAGES`] pages of [`PAGE_SIZE`] bytes. A bitmap with one bit
//! per page says which pages are handed out; `custom_mmap` takes the first
//! run of free pages long enough (first fit) and `custom_munmap` clears the
//! bits of the range it is given. This is the shape of most ports: a kernel
//! or firmware owns a region (from its memory map, a linker-script section,
//! `AllocatePages` at boot) and carves it up itself.
//!
//! The pool remembers pages, not mappings. That is what lets it accept
//! every range the core may give back: a whole mapping, several adjacent
//! mappings at once, or the tail of one. A platform whose native allocator
//! can only free whole allocations (a pool allocator keyed by start address)
//! must refuse the other ranges with -1; the core then keeps using them.
//!
//! A usage log records every call in a fixed ring buffer, and counters
//! track the pages in use and their peak. Nothing here allocates: these
//! hooks run with the heap lock held.
//!
//! The pool has a lock of its own. The core calls `custom_mmap` and
//! `custom_munmap` under the lock of the heap concerned (the global heap's
//! or an mspace's), under no lock at all from `create_mspace` and
//! `destroy_mspace`, so two threads can be in these hooks at once.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::fmt;
use core::ptr;
use core::sync::atomic::AtomicUsize;

use super::lock::{spin_acquire, spin_release};

/// Bytes per page of the pool: the unit of every length the core passes.
///
/// Chosen by the platform, not by the hardware: the pool never changes page
/// protections, so any power of two works. It is 16 KiB here, not the
/// 4096 bytes the core assumes without [`custom_page_size`], so that a port
/// whose `custom_page_size` failed to link is caught: the core would pass
/// lengths that are not whole pool pages, and [`custom_mmap`] refuses those.
pub const PAGE_SIZE: usize = 16 << 10;
/// Number of pages in the pool.
pub const POOL_PAGES: usize = 512;
/// Bytes in the pool: 8 MiB.
pub const POOL_BYTES: usize = PAGE_SIZE * POOL_PAGES;
/// Events the usage log keeps; older ones are overwritten.
pub const LOG_CAPACITY: usize = 64;

/// Words of the pool's page bitmap.
const BITMAP_WORDS: usize = POOL_PAGES.div_ceil(64);

/// Fill pattern for released pages in debug builds: a core that kept using
/// memory after giving it back would read garbage and fail its checks,
/// where an MMU port would fault.
const POISON: u8 = 0xa5;

// ======================= the pool memory =======================

/// The pool's bytes. The alignment must equal [`PAGE_SIZE`] (checked below);
/// `repr(align)` takes only a literal.
#[repr(C, align(16384))]
struct PoolMemory(UnsafeCell<[u8; POOL_BYTES]>);

const _: () = assert!(align_of::<PoolMemory>() == PAGE_SIZE);
const _: () = assert!(PAGE_SIZE.is_power_of_two());

// SAFETY: the pool's bytes are only reached through pointers that
// `custom_mmap` hands out, each page to one owner at a time (the bitmap,
// under the pool lock, decides who); this module never reads them.
unsafe impl Sync for PoolMemory {}

/// The pool. All zero at start, so it lives in `.bss` and costs no image
/// size.
static MEMORY: PoolMemory = PoolMemory(UnsafeCell::new([0; POOL_BYTES]));

/// The address of the pool's first byte.
pub fn pool_base() -> usize {
    MEMORY.0.get().addr()
}

/// What `custom_mmap` returns on failure: `(void*)-1`, never null.
fn map_failed() -> *mut c_void {
    ptr::without_provenance_mut(usize::MAX)
}

// ======================= the page allocator =======================

/// A first-fit page allocator over page numbers `0..pages`, one bit per
/// page. It knows nothing about addresses; the pool adds those.
#[derive(Clone, Debug)]
pub(crate) struct PageMap<const WORDS: usize> {
    used: [u64; WORDS],
    pages: usize,
    in_use: usize,
}

impl<const WORDS: usize> PageMap<WORDS> {
    /// An allocator of `pages` pages, all free.
    ///
    /// # Panics
    ///
    /// If `pages` exceeds the bitmap's `WORDS * 64` bits.
    pub(crate) const fn new(pages: usize) -> Self {
        assert!(pages <= WORDS * 64, "bitmap too small for the pages");
        Self {
            used: [0; WORDS],
            pages,
            in_use: 0,
        }
    }

    fn is_used(&self, page: usize) -> bool {
        self.used[page / 64] & (1 << (page % 64)) != 0
    }

    fn mark(&mut self, first: usize, count: usize, used: bool) {
        for page in first..first + count {
            let bit = 1 << (page % 64);
            if used {
                self.used[page / 64] |= bit;
            } else {
                self.used[page / 64] &= !bit;
            }
        }
    }

    /// Takes the first run of `count` free pages and returns its first page
    /// number; `None` when `count` is 0 or no run is long enough.
    pub(crate) fn alloc(&mut self, count: usize) -> Option<usize> {
        if count == 0 || count > self.pages - self.in_use {
            return None;
        }
        let mut run = 0;
        for page in 0..self.pages {
            if self.is_used(page) {
                run = 0;
                continue;
            }
            run += 1;
            if run == count {
                let first = page + 1 - count;
                self.mark(first, count, true);
                self.in_use += count;
                return Some(first);
            }
        }
        None
    }

    /// Frees pages `first..first + count` if every one of them is in use and
    /// returns true; otherwise changes nothing and returns false (also for
    /// `count` 0 or a range past the end).
    pub(crate) fn free(&mut self, first: usize, count: usize) -> bool {
        let in_range = count != 0 && first < self.pages && count <= self.pages - first;
        if !in_range || !(first..first + count).all(|page| self.is_used(page)) {
            return false;
        }
        self.mark(first, count, false);
        self.in_use -= count;
        true
    }

    /// Pages currently handed out.
    pub(crate) fn in_use(&self) -> usize {
        self.in_use
    }
}

// ======================= the usage log =======================

/// What a hook call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// `custom_mmap` handed out pages.
    Map,
    /// `custom_munmap` took pages back.
    Unmap,
    /// `custom_mmap` failed: no run of free pages was long enough. A normal
    /// out-of-memory condition; the core turns it into a null allocation.
    MapExhausted,
    /// `custom_mmap` refused a length the contract rules out (0, or not a
    /// whole number of pages).
    MapRefused,
    /// `custom_munmap` refused a range the contract rules out (outside the
    /// pool, not page aligned, or containing pages not handed out).
    UnmapRefused,
}

impl EventKind {
    fn name(self) -> &'static str {
        match self {
            EventKind::Map => "map",
            EventKind::Unmap => "unmap",
            EventKind::MapExhausted => "map-exhausted",
            EventKind::MapRefused => "map-refused",
            EventKind::UnmapRefused => "unmap-refused",
        }
    }
}

/// One hook call recorded in the usage log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Position in the sequence of all events, from 0.
    pub seq: u64,
    /// What happened.
    pub kind: EventKind,
    /// The address mapped or unmapped (0 for a failed map).
    pub addr: usize,
    /// The length the core passed, in bytes.
    pub len: usize,
}

impl fmt::Display for Event {
    /// `#  12 map           pool+0x0040000       1064960 bytes (65 pages)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.name();
        write!(f, "#{:>4} {kind:<13} ", self.seq)?;
        // The address column is 18 characters wide in each case.
        match self.addr.checked_sub(pool_base()) {
            _ if self.addr == 0 => write!(f, "{:<18}", "-")?,
            Some(offset) if offset < POOL_BYTES => write!(f, "pool+{offset:#09x}    ")?,
            _ => write!(f, "{:#018x}", self.addr)?,
        }
        write!(f, " {:>9} bytes", self.len)?;
        if self.len % PAGE_SIZE == 0 {
            write!(f, " ({} pages)", self.len / PAGE_SIZE)?;
        }
        Ok(())
    }
}

/// The last [`LOG_CAPACITY`] events in a ring buffer; no allocation.
#[derive(Clone, Copy, Debug)]
struct UsageLog {
    ring: [Event; LOG_CAPACITY],
    total: u64,
}

impl UsageLog {
    const EMPTY: Event = Event {
        seq: 0,
        kind: EventKind::Map,
        addr: 0,
        len: 0,
    };

    const fn new() -> Self {
        Self {
            ring: [Self::EMPTY; LOG_CAPACITY],
            total: 0,
        }
    }

    fn push(&mut self, kind: EventKind, addr: usize, len: usize) {
        let slot = (self.total % LOG_CAPACITY as u64) as usize;
        self.ring[slot] = Event {
            seq: self.total,
            kind,
            addr,
            len,
        };
        self.total += 1;
    }

    /// The events still in the ring, oldest first.
    fn events(&self) -> impl DoubleEndedIterator<Item = Event> + '_ {
        let kept = self.total.min(LOG_CAPACITY as u64);
        (self.total - kept..self.total).map(|seq| self.ring[(seq % LOG_CAPACITY as u64) as usize])
    }
}

// ======================= the pool and its lock =======================

/// Everything the pool lock guards.
struct PoolState {
    pages: PageMap<BITMAP_WORDS>,
    peak_pages: usize,
    maps: u64,
    unmaps: u64,
    exhausted: u64,
    refused: u64,
    log: UsageLog,
}

/// The pool's state behind its own spin lock.
struct Pool {
    lock: AtomicUsize,
    state: UnsafeCell<PoolState>,
}

// SAFETY: `state` is only reached through `Pool::with`, which holds `lock`.
unsafe impl Sync for Pool {}

impl Pool {
    /// Runs `f` on the state with the pool lock held. `f` must not allocate
    /// (an allocation may need `custom_mmap`, which would wait for this lock
    /// forever) and must not panic (the lock would stay held).
    fn with<R>(&self, f: impl FnOnce(&mut PoolState) -> R) -> R {
        spin_acquire(&self.lock);
        // SAFETY: the lock is held, so this is the only reference to the
        // state until it is released below.
        let result = f(unsafe { &mut *self.state.get() });
        spin_release(&self.lock);
        result
    }
}

static POOL: Pool = Pool {
    lock: AtomicUsize::new(0),
    state: UnsafeCell::new(PoolState {
        pages: PageMap::new(POOL_PAGES),
        peak_pages: 0,
        maps: 0,
        unmaps: 0,
        exhausted: 0,
        refused: 0,
        log: UsageLog::new(),
    }),
};

// ======================= the hooks =======================

/// The page size of this platform: [`PAGE_SIZE`].
///
/// An optional hook. **The core guarantees:** it calls this once, on the
/// first call into the allocator (before any lock exists, from whichever
/// thread comes first) and uses the value for the rest of the process; on
/// targets without weak symbols (Windows, UEFI) it never calls it and
/// assumes 4096.
///
/// **You must guarantee:** a power of two (the core aborts through
/// `custom_abort` otherwise), the same value every time, and the alignment
/// of every address `custom_mmap` returns. The core rounds every length it
/// passes to `custom_mmap` and `custom_munmap` to a multiple of it, and the
/// default mmap granularity (2 MiB) is raised to it if smaller.
///
/// The core refers to this symbol weakly: if nothing pulls it into the
/// link, the program still links and silently uses 4096. See
/// [`custom_mmap`] for how to make sure it is linked.
#[unsafe(no_mangle)]
pub extern "C" fn custom_page_size() -> usize {
    PAGE_SIZE
}

/// Hands out `len` bytes of the pool, page aligned.
///
/// **The core guarantees:** `len` is a non-zero multiple of the page size
/// ([`custom_page_size`]). The call may come with a heap lock held, or
/// (from `create_mspace`) with none, and concurrently with other calls of
/// this hook and of [`custom_munmap`] from other threads.
///
/// **You must guarantee:** return the address of `len` readable and
/// writable bytes aligned to the page size, which nobody else uses until
/// the core gives them back with [`custom_munmap`]; or `(void*)-1`
/// (`usize::MAX as *mut c_void`), never null, when you cannot. The memory
/// need not be zeroed (the core clears what `calloc` returns itself). The
/// function must be thread-safe, must not allocate through this allocator
/// and must not call into it.
///
/// Here: first fit in the pool's page bitmap; `(void*)-1` when no run of
/// free pages is long enough, or when `len` breaks the contract (logged as
/// a refusal, so the demo can check that it never happens).
#[unsafe(no_mangle)]
pub extern "C" fn custom_mmap(len: usize) -> *mut c_void {
    // Calling the hook by its symbol is deliberate. The core's reference to
    // `custom_page_size` is weak, and a weak reference never pulls an object
    // file out of a library archive: if nothing else kept the object that
    // defines it (hooks built as a C or static library, or a toolchain that
    // does not keep every exported Rust symbol the way rustc does today),
    // the linker would drop it and the core would quietly assume 4096-byte
    // pages. This call is a strong reference, so whenever `custom_mmap` is
    // linked, `custom_page_size` is too.
    let page = custom_page_size();
    POOL.with(|pool| {
        if len == 0 || len % page != 0 {
            pool.refused += 1;
            pool.log.push(EventKind::MapRefused, 0, len);
            return map_failed();
        }
        let Some(first) = pool.pages.alloc(len / page) else {
            pool.exhausted += 1;
            pool.log.push(EventKind::MapExhausted, 0, len);
            return map_failed();
        };
        // SAFETY: `first + len / page <= POOL_PAGES`, so the offset stays
        // inside the pool.
        let mem = unsafe { MEMORY.0.get().cast::<u8>().add(first * page) };
        pool.maps += 1;
        pool.peak_pages = pool.peak_pages.max(pool.pages.in_use());
        pool.log.push(EventKind::Map, mem.addr(), len);
        mem.cast()
    })
}

/// Takes back the `len` bytes at `ptr`; returns 0 on success, -1 on failure.
///
/// **The core guarantees:** `ptr` is page aligned and `len` a non-zero
/// multiple of the page size. The range lies within memory that
/// [`custom_mmap`] handed out and the core has not given back, and it is
/// one of:
///
/// - a whole mapping (a freed large block, a released segment, a destroyed
///   mspace);
/// - a run of adjacent mappings, when the core merged neighbouring
///   mappings into one segment;
/// - the tail of a mapping or of such a run (trimming the heap, shrinking a
///   large block in place);
/// - what remains of any of these after a tail was given back earlier.
///
/// The core never touches the range again after a 0; after a -1 it keeps
/// the range and goes on using it (a failed unmap loses nothing). The call
/// may come with a heap lock held, or (from `destroy_mspace`) with none,
/// and concurrently with other calls of this hook and of [`custom_mmap`].
///
/// **You must guarantee:** 0 only when the whole range was taken back; -1
/// leaving the range untouched and still usable otherwise. The function must
/// be thread-safe, must not allocate through this allocator and must not
/// call into it.
///
/// Here: any page run in the pool whose pages are all handed out is freed
/// (the pool tracks pages, so all four kinds of ranges work); anything else
/// is refused and logged. Debug builds fill freed pages with a poison byte.
///
/// # Safety
///
/// The range must have come from [`custom_mmap`] and must not be used after
/// a successful call; anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_munmap(ptr: *mut c_void, len: usize) -> i32 {
    let page = custom_page_size();
    let offset = ptr.addr().wrapping_sub(pool_base());
    POOL.with(|pool| {
        let valid = len != 0
            && len % page == 0
            && offset % page == 0
            && offset < POOL_BYTES
            && len <= POOL_BYTES - offset;
        if !valid || !pool.pages.free(offset / page, len / page) {
            pool.refused += 1;
            pool.log.push(EventKind::UnmapRefused, ptr.addr(), len);
            return -1;
        }
        if cfg!(debug_assertions) {
            // SAFETY: the range lies in the pool (checked above) and the
            // caller no longer uses it; no one else can get these pages
            // before the pool lock is released.
            unsafe { ptr.cast::<u8>().write_bytes(POISON, len) };
        }
        pool.unmaps += 1;
        pool.log.push(EventKind::Unmap, ptr.addr(), len);
        0
    })
}

// ======================= reading the counters =======================

/// A consistent snapshot of the pool's counters and usage log, taken under
/// the pool lock.
#[derive(Clone, Copy, Debug)]
pub struct PoolReport {
    /// Pages handed out and not given back.
    pub pages_in_use: usize,
    /// The most pages ever handed out at once.
    pub peak_pages: usize,
    /// Successful `custom_mmap` calls.
    pub maps: u64,
    /// Successful `custom_munmap` calls.
    pub unmaps: u64,
    /// `custom_mmap` calls that failed for lack of pages.
    pub exhausted: u64,
    /// Calls refused because they broke the contract; 0 with a correct core.
    pub refused: u64,
    log: UsageLog,
}

impl PoolReport {
    /// Events ever recorded (the log keeps the last [`LOG_CAPACITY`]).
    pub fn total_events(&self) -> u64 {
        self.log.total
    }

    /// The events still in the log, oldest first.
    pub fn events(&self) -> impl DoubleEndedIterator<Item = Event> + '_ {
        self.log.events()
    }

    /// Bytes handed out and not given back.
    pub fn bytes_in_use(&self) -> usize {
        self.pages_in_use * PAGE_SIZE
    }
}

/// Takes a snapshot of the pool's counters and log.
///
/// The snapshot is copied out by value under the pool lock, and formatted
/// only afterwards: formatting may allocate, and an allocation that needs
/// pages while the pool lock is held would wait for that lock forever.
pub fn report() -> PoolReport {
    POOL.with(|pool| PoolReport {
        pages_in_use: pool.pages.in_use(),
        peak_pages: pool.peak_pages,
        maps: pool.maps,
        unmaps: pool.unmaps,
        exhausted: pool.exhausted,
        refused: pool.refused,
        log: pool.log,
    })
}

#[cfg(test)]
mod tests {
    //! The page allocator on its own (no memory behind it), then the hooks
    //! on the real pool. The test harness allocates through the same pool
    //! concurrently, so the hook tests only check their own ranges.

    use super::*;

    #[test]
    fn first_fit_hands_out_consecutive_runs() {
        let mut map = PageMap::<2>::new(100);
        assert_eq!(map.alloc(3), Some(0));
        assert_eq!(map.alloc(1), Some(3));
        assert_eq!(map.alloc(60), Some(4));
        assert_eq!(map.alloc(36), Some(64));
        assert_eq!(map.in_use(), 100);
        assert_eq!(map.alloc(1), None);
    }

    #[test]
    fn zero_pages_is_not_a_request() {
        let mut map = PageMap::<1>::new(8);
        assert_eq!(map.alloc(0), None);
        assert!(!map.free(0, 0));
    }

    #[test]
    fn freed_whole_run_is_reused_first() {
        let mut map = PageMap::<1>::new(16);
        let a = map.alloc(4).unwrap();
        let b = map.alloc(4).unwrap();
        assert!(map.free(a, 4));
        assert_eq!(map.alloc(2), Some(a), "first fit reuses the lowest hole");
        assert_eq!(map.alloc(2), Some(a + 2));
        assert_eq!(map.alloc(1), Some(b + 4));
        assert_eq!(map.in_use(), 9);
    }

    #[test]
    fn a_tail_and_later_the_head_come_back() {
        let mut map = PageMap::<1>::new(16);
        let first = map.alloc(10).unwrap();
        assert!(map.free(first + 6, 4), "tail of a mapping");
        assert_eq!(map.in_use(), 6);
        assert_eq!(map.alloc(4), Some(first + 6), "the tail is free again");
        assert!(map.free(first + 6, 4));
        assert!(map.free(first, 6), "what remains of the mapping");
        assert_eq!(map.in_use(), 0);
    }

    #[test]
    fn a_run_of_adjacent_mappings_comes_back_in_one_call() {
        let mut map = PageMap::<1>::new(16);
        let a = map.alloc(2).unwrap();
        let b = map.alloc(3).unwrap();
        assert_eq!(b, a + 2);
        assert!(map.free(a, 5));
        assert_eq!(map.in_use(), 0);
        assert_eq!(map.alloc(16), Some(0));
    }

    #[test]
    fn free_refuses_pages_not_handed_out_and_changes_nothing() {
        let mut map = PageMap::<1>::new(16);
        let a = map.alloc(4).unwrap();
        assert!(!map.free(a + 2, 4), "runs past the mapping into free pages");
        assert!(!map.free(12, 2), "never handed out");
        assert!(!map.free(15, 2), "past the end");
        assert!(!map.free(usize::MAX, 2), "far past the end");
        assert_eq!(map.in_use(), 4);
        assert!(map.free(a, 4), "the mapping itself is still intact");
        assert!(!map.free(a, 4), "but only once");
    }

    #[test]
    fn exhaustion_and_fragmentation() {
        let mut map = PageMap::<1>::new(8);
        let runs: Vec<usize> = (0..4).map(|_| map.alloc(2).unwrap()).collect();
        assert_eq!(map.alloc(1), None, "full");
        assert!(map.free(runs[0], 2));
        assert!(map.free(runs[2], 2));
        assert_eq!(map.alloc(3), None, "4 pages free, but no run of 3");
        assert_eq!(map.alloc(2), Some(runs[0]));
        assert_eq!(map.alloc(2), Some(runs[2]));
    }

    #[test]
    fn log_keeps_the_newest_events_in_order() {
        let mut log = UsageLog::new();
        assert_eq!(log.events().count(), 0);
        for i in 0..LOG_CAPACITY + 5 {
            log.push(EventKind::Map, i, PAGE_SIZE);
        }
        let seqs: Vec<u64> = log.events().map(|e| e.seq).collect();
        assert_eq!(seqs.len(), LOG_CAPACITY);
        assert_eq!(seqs[0], 5);
        assert_eq!(*seqs.last().unwrap(), (LOG_CAPACITY + 4) as u64);
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    }

    #[test]
    fn hooks_map_and_unmap_tails_on_the_real_pool() {
        let len = 4 * PAGE_SIZE;
        let mem = custom_mmap(len);
        assert_ne!(mem, map_failed());
        assert_eq!(mem.addr() % PAGE_SIZE, 0);
        assert!((pool_base()..pool_base() + POOL_BYTES).contains(&mem.addr()));
        // SAFETY: the four pages are ours until unmapped below.
        unsafe { mem.cast::<u8>().write_bytes(1, len) };
        // SAFETY: the tail and then the head came from custom_mmap above and
        // are not used afterwards.
        unsafe {
            let tail = mem.cast::<u8>().add(3 * PAGE_SIZE).cast();
            assert_eq!(custom_munmap(tail, PAGE_SIZE), 0);
            assert_eq!(custom_munmap(mem, 3 * PAGE_SIZE), 0);
        }
    }

    #[test]
    fn hooks_refuse_what_the_contract_rules_out() {
        let before = report().refused;
        assert_eq!(custom_mmap(0), map_failed());
        assert_eq!(custom_mmap(PAGE_SIZE / 2), map_failed());
        let mut outside = [0u8; 16];
        // SAFETY: refused without touching the memory (outside the pool).
        let unmapped = unsafe { custom_munmap(outside.as_mut_ptr().cast(), PAGE_SIZE) };
        assert_eq!(unmapped, -1);
        assert_eq!(report().refused, before + 3);
    }

    #[test]
    fn hooks_fail_cleanly_when_the_pool_cannot_serve() {
        let before = report().exhausted;
        assert_eq!(custom_mmap(POOL_BYTES + PAGE_SIZE), map_failed());
        assert!(report().exhausted > before);
        assert!(
            report()
                .events()
                .any(|e| e.kind == EventKind::MapExhausted && e.len == POOL_BYTES + PAGE_SIZE)
        );
    }
}
