//! The page allocator behind `custom_mmap` and `custom_munmap`: whole pages
//! from a fixed table of memory regions, with an address-ordered free list
//! whose nodes live inside the free pages themselves.
//!
//! Invariants (checked by [`PageAllocator::check`]):
//!
//! - every free run starts with a [`FreeRun`] node, is page aligned, has at
//!   least one page and lies inside the registered regions;
//! - the list is sorted by address and no two runs touch (a run adjacent to
//!   another is always merged with it);
//! - the pages of all runs add up to `free_pages`, at most `total_pages`.
//!
//! Nothing here allocates, and no operation takes a lock: the owner of the
//! allocator (the global instance in `pages.rs`, or a test) serialises calls.

use core::fmt;
use core::ptr::{self, NonNull};

use crate::PAGE_SIZE;

/// How many regions a [`PageAllocator`] can hold; [`PageAllocator::add_region`]
/// refuses more.
pub const MAX_REGIONS: usize = 16;

/// Figures of a page allocator: see [`arena_stats`](crate::arena_stats) and
/// [`PageAllocator::stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArenaStats {
    /// Bytes in all regions (whole pages only: what was trimmed off a
    /// region's ends is not counted).
    pub total_bytes: usize,
    /// Bytes not currently handed out.
    pub free_bytes: usize,
    /// Number of regions (the static arena, if any, counts as one).
    pub regions: usize,
}

/// Why [`PageAllocator::free`] refused a range. A refused free changes
/// nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// The start or the length is not a multiple of [`PAGE_SIZE`], or the
    /// length is 0.
    Unaligned,
    /// Part of the range lies outside every region.
    OutsideRegions,
    /// Part of the range is already free (a double free, or memory never
    /// handed out).
    NotAllocated,
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FreeError::Unaligned => "range is not page aligned or is empty",
            FreeError::OutsideRegions => "range lies outside every region",
            FreeError::NotAllocated => "range overlaps free pages",
        })
    }
}

/// A registered region `[start, end)`, both page aligned.
#[derive(Clone, Copy)]
struct Region {
    start: usize,
    end: usize,
}

impl Region {
    const EMPTY: Region = Region { start: 0, end: 0 };
}

/// The header at the start of every free run of pages.
#[repr(C)]
struct FreeRun {
    /// Length of the run in pages, at least 1.
    pages: usize,
    /// The next run at a higher address, or null.
    next: *mut FreeRun,
}

/// The address just past the run `run`.
///
/// # Safety
///
/// `run` must point to a live free-run node of the list; anything else is
/// undefined behavior.
unsafe fn run_end(run: *const FreeRun) -> usize {
    // SAFETY: the caller guarantees a live node.
    run.addr() + unsafe { (*run).pages } * PAGE_SIZE
}

/// Hands out and takes back whole pages of memory regions given to it.
///
/// The global instance behind the hooks is reached through
/// [`add_region`](crate::add_region) and [`arena_stats`](crate::arena_stats);
/// this type is public so that the algorithm can be used and tested on any
/// block of memory.
///
/// - [`alloc`](Self::alloc) is first fit from the lowest address, so
///   consecutive requests get adjacent memory (which the core merges into
///   one segment).
/// - [`free`](Self::free) takes back any page-aligned part of what was handed
///   out (a whole allocation, several adjacent ones, a tail) and merges it
///   with free neighbours; freed pages are handed out again.
/// - The bookkeeping of a free run lives in its first page, so the type needs
///   no memory of its own beyond a table of [`MAX_REGIONS`] regions.
///
/// ```rust,standalone_crate
/// use dlmalloc_platform_baremetal::{PAGE_SIZE, PageAllocator};
///
/// # dlmalloc_platform_baremetal::no_static_arena!();
/// let block: &'static mut [u8] = Box::leak(vec![0u8; 64 * PAGE_SIZE].into_boxed_slice());
/// let mut pages = PageAllocator::new();
/// // SAFETY: the leaked block is valid forever and used by nothing else.
/// let added = unsafe { pages.add_region(block.as_mut_ptr(), block.len()) };
/// assert!(added >= 63 * PAGE_SIZE); // trimmed inward to whole pages
///
/// let a = pages.alloc(3 * PAGE_SIZE).unwrap();
/// let b = pages.alloc(PAGE_SIZE).unwrap();
/// assert_eq!(b.addr().get(), a.addr().get() + 3 * PAGE_SIZE); // adjacent
/// // SAFETY: both ranges were handed out above and are no longer used.
/// unsafe {
///     pages.free(a.as_ptr(), 3 * PAGE_SIZE).unwrap();
///     pages.free(b.as_ptr(), PAGE_SIZE).unwrap();
/// }
/// assert_eq!(pages.stats().free_bytes, added);
/// assert_eq!(pages.free_runs(), 1);
/// ```
pub struct PageAllocator {
    regions: [Region; MAX_REGIONS],
    region_count: usize,
    /// The free run at the lowest address, or null.
    head: *mut FreeRun,
    total_pages: usize,
    free_pages: usize,
}

// SAFETY: the raw pointers point into the regions, memory that `add_region`'s
// caller handed to this allocator for good; moving the allocator to another
// thread moves that ownership along, and every access goes through `&mut self`.
unsafe impl Send for PageAllocator {}

impl Default for PageAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl PageAllocator {
    /// An allocator with no regions: every [`alloc`](Self::alloc) fails until
    /// [`add_region`](Self::add_region) is called.
    pub const fn new() -> Self {
        PageAllocator {
            regions: [Region::EMPTY; MAX_REGIONS],
            region_count: 0,
            head: ptr::null_mut(),
            total_pages: 0,
            free_pages: 0,
        }
    }

    /// Adds the whole pages of `[start, start + len)` as a new region and
    /// returns how many bytes were added.
    ///
    /// The range is trimmed inward to page boundaries; the page at address 0
    /// is never used (a page there would look like a null pointer). Returns 0
    /// and adds nothing when no whole page remains, when `start + len`
    /// overflows, when the range overlaps a region already added, or when
    /// [`MAX_REGIONS`] regions are already registered.
    ///
    /// # Safety
    ///
    /// The range must be valid for reads and writes for as long as this
    /// allocator or any memory it hands out is used, and nothing else may
    /// access it from now on except through memory this allocator hands out;
    /// otherwise the behavior is undefined. The memory need not be
    /// initialised.
    pub unsafe fn add_region(&mut self, start: *mut u8, len: usize) -> usize {
        let addr = start.addr();
        let Some(raw_end) = addr.checked_add(len) else {
            return 0;
        };
        let Some(first) = addr.checked_next_multiple_of(PAGE_SIZE) else {
            return 0;
        };
        let first = first.max(PAGE_SIZE);
        let end = raw_end & !(PAGE_SIZE - 1);
        if end <= first || self.region_count == MAX_REGIONS {
            return 0;
        }
        let overlaps = self.regions[..self.region_count]
            .iter()
            .any(|r| first < r.end && r.start < end);
        if overlaps {
            return 0;
        }
        self.regions[self.region_count] = Region { start: first, end };
        self.region_count += 1;
        let pages = (end - first) / PAGE_SIZE;
        self.total_pages += pages;
        // SAFETY: `first - addr < len`, so the pointer stays inside the
        // caller's range.
        let run = unsafe { start.add(first - addr) };
        // SAFETY: the run lies in a region that overlaps no other, so it
        // overlaps no free run; the caller gave us the memory.
        unsafe { self.insert(run, pages) };
        end - first
    }

    /// Hands out `len` bytes (rounded up to whole pages), page aligned, from
    /// the lowest-addressed free run that is large enough; `None` when no run
    /// is, or when `len` is 0.
    ///
    /// The memory is not zeroed: it holds whatever was there before.
    pub fn alloc(&mut self, len: usize) -> Option<NonNull<u8>> {
        if len == 0 {
            return None;
        }
        let pages = len.div_ceil(PAGE_SIZE);
        let mut link: *mut *mut FreeRun = &raw mut self.head;
        loop {
            // SAFETY: `link` is `self.head` or the `next` field of a live
            // node; both are valid.
            let run = unsafe { *link };
            if run.is_null() {
                return None;
            }
            // SAFETY: every run in the list is a live node (the invariant).
            let (run_pages, next) = unsafe { ((*run).pages, (*run).next) };
            if run_pages >= pages {
                let replacement = if run_pages == pages {
                    next
                } else {
                    // SAFETY: the run has more than `pages` pages, so the
                    // rest starts inside it, page aligned.
                    let rest = unsafe { run.cast::<u8>().add(pages * PAGE_SIZE) }.cast::<FreeRun>();
                    // SAFETY: `rest` is the first page of free memory this
                    // allocator owns; it is aligned for a node.
                    unsafe {
                        rest.write(FreeRun {
                            pages: run_pages - pages,
                            next,
                        })
                    };
                    rest
                };
                // SAFETY: as for the read above.
                unsafe { *link = replacement };
                self.free_pages -= pages;
                return NonNull::new(run.cast());
            }
            // SAFETY: `run` is live; its `next` field is a valid place.
            link = unsafe { &raw mut (*run).next };
        }
    }

    /// Takes back `[ptr, ptr + len)` and merges it with free neighbours.
    ///
    /// The range may be anything this allocator handed out and has not taken
    /// back: a whole allocation, several adjacent ones, or any page-aligned
    /// part of one (such as a tail). A range that is not page aligned, lies
    /// outside the regions or overlaps free pages is refused with an error,
    /// and nothing changes.
    ///
    /// # Safety
    ///
    /// The range must no longer be used by anyone: this allocator writes its
    /// bookkeeping into it and hands it out again, so any later access
    /// through an old pointer is undefined behavior. (Ranges that were never
    /// handed out are detected and refused, as long as the list itself has
    /// not been corrupted by writes to free memory.)
    pub unsafe fn free(&mut self, ptr: *mut u8, len: usize) -> Result<(), FreeError> {
        let addr = ptr.addr();
        if len == 0 || addr % PAGE_SIZE != 0 || len % PAGE_SIZE != 0 {
            return Err(FreeError::Unaligned);
        }
        let Some(end) = addr.checked_add(len) else {
            return Err(FreeError::OutsideRegions);
        };
        if !self.covers(addr, end) {
            return Err(FreeError::OutsideRegions);
        }
        let (prev, next) = self.neighbours(addr);
        // SAFETY: `prev` is null or a live node.
        if !prev.is_null() && unsafe { run_end(prev) } > addr {
            return Err(FreeError::NotAllocated);
        }
        if !next.is_null() && next.addr() < end {
            return Err(FreeError::NotAllocated);
        }
        // SAFETY: the range is inside the regions, overlaps no free run (just
        // checked), and the caller no longer uses it.
        unsafe { self.insert(ptr, len / PAGE_SIZE) };
        Ok(())
    }

    /// Figures: total and free bytes, number of regions.
    pub fn stats(&self) -> ArenaStats {
        ArenaStats {
            total_bytes: self.total_pages * PAGE_SIZE,
            free_bytes: self.free_pages * PAGE_SIZE,
            regions: self.region_count,
        }
    }

    /// The number of separate free runs: 1 when all free memory is one
    /// contiguous block (for example everything freed in a single region).
    pub fn free_runs(&self) -> usize {
        let mut count = 0;
        let mut run = self.head;
        while !run.is_null() {
            count += 1;
            // SAFETY: every run in the list is a live node.
            run = unsafe { (*run).next };
        }
        count
    }

    /// The size in bytes of the largest free run: the largest request
    /// [`alloc`](Self::alloc) can serve right now.
    pub fn largest_free_run(&self) -> usize {
        let mut largest = 0;
        let mut run = self.head;
        while !run.is_null() {
            // SAFETY: every run in the list is a live node.
            let (pages, next) = unsafe { ((*run).pages, (*run).next) };
            largest = largest.max(pages * PAGE_SIZE);
            run = next;
        }
        largest
    }

    /// Verifies the free list: every run page aligned, non-empty and inside
    /// the regions; runs in address order, never touching (merged); their
    /// pages adding up to the free count. Returns the first violation found.
    ///
    /// For tests and debugging. A write into free memory by a user of the
    /// allocator is what would break these invariants.
    pub fn check(&self) -> Result<(), &'static str> {
        let mut pages = 0usize;
        let mut runs = 0usize;
        let mut last_end = 0usize;
        let mut run = self.head;
        while !run.is_null() {
            runs += 1;
            if runs > self.total_pages {
                return Err("free list is longer than the page count (a cycle?)");
            }
            if run.addr() % PAGE_SIZE != 0 {
                return Err("free run is not page aligned");
            }
            if run.addr() <= last_end && runs > 1 {
                return Err("free runs are out of order, overlap or touch (not merged)");
            }
            // SAFETY: `run` is non-null and, barring corruption, a live node;
            // the checks above keep it inside aligned memory we track.
            let (run_pages, next) = unsafe { ((*run).pages, (*run).next) };
            if run_pages == 0 {
                return Err("free run of zero pages");
            }
            let Some(end) = run_pages
                .checked_mul(PAGE_SIZE)
                .and_then(|len| run.addr().checked_add(len))
            else {
                return Err("free run extends past the address space");
            };
            if !self.covers(run.addr(), end) {
                return Err("free run lies outside the regions");
            }
            pages += run_pages;
            last_end = end;
            run = next;
        }
        if pages != self.free_pages {
            return Err("free runs do not add up to the free page count");
        }
        if self.free_pages > self.total_pages {
            return Err("more free pages than pages");
        }
        Ok(())
    }

    /// Whether `[start, end)` lies entirely inside the regions (possibly
    /// across adjacent ones).
    fn covers(&self, start: usize, end: usize) -> bool {
        let regions = &self.regions[..self.region_count];
        let mut at = start;
        while at < end {
            match regions.iter().find(|r| r.start <= at && at < r.end) {
                Some(r) => at = r.end,
                None => return false,
            }
        }
        true
    }

    /// The last free run below `addr` and the first at or above it (each
    /// null if there is none).
    fn neighbours(&self, addr: usize) -> (*mut FreeRun, *mut FreeRun) {
        let mut prev = ptr::null_mut();
        let mut next = self.head;
        while !next.is_null() && next.addr() < addr {
            prev = next;
            // SAFETY: every run in the list is a live node.
            next = unsafe { (*next).next };
        }
        (prev, next)
    }

    /// Adds `pages` free pages at `start` to the list, merging with the runs
    /// that end at `start` or begin right after the range.
    ///
    /// # Safety
    ///
    /// `start` must be page aligned, the range must lie inside the regions,
    /// be owned by this allocator, unused, and overlap no free run; anything
    /// else is undefined behavior.
    unsafe fn insert(&mut self, start: *mut u8, pages: usize) {
        let addr = start.addr();
        let end = addr + pages * PAGE_SIZE;
        let (prev, next) = self.neighbours(addr);
        let (mut merged_pages, mut merged_next) = (pages, next);
        if !next.is_null() && next.addr() == end {
            // SAFETY: `next` is a live node.
            unsafe { (merged_pages, merged_next) = (pages + (*next).pages, (*next).next) };
        }
        // SAFETY: `prev` is null or a live node.
        if !prev.is_null() && unsafe { run_end(prev) } == addr {
            // SAFETY: `prev` is a live node; it now also covers the range
            // (and `next`, when that was merged).
            unsafe {
                (*prev).pages += merged_pages;
                (*prev).next = merged_next;
            }
        } else {
            let node = start.cast::<FreeRun>();
            // SAFETY: the caller guarantees the range is ours and unused; it
            // is page aligned, hence aligned for a node.
            unsafe {
                node.write(FreeRun {
                    pages: merged_pages,
                    next: merged_next,
                })
            };
            if prev.is_null() {
                self.head = node;
            } else {
                // SAFETY: `prev` is a live node.
                unsafe { (*prev).next = node };
            }
        }
        self.free_pages += pages;
    }
}
