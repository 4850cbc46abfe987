//! System memory for the core: `custom_mmap`, `custom_munmap` and
//! `custom_page_size` over one global [`PageAllocator`], plus
//! [`add_region`] and [`arena_stats`].

use core::ffi::c_void;
use core::hint;
use core::ptr;

use crate::PAGE_SIZE;
use crate::arena;
use crate::lock::Mutex;
use crate::page_allocator::{ArenaStats, PageAllocator};

/// The global page allocator and whether the static arena is registered.
struct Pages {
    allocator: PageAllocator,
    arena_registered: bool,
}

/// The one instance behind the hooks. Several heaps (mspaces) may ask for
/// pages at once, so it has its own lock, of the crate's lock kind.
static PAGES: Mutex<Pages> = Mutex::new(Pages {
    allocator: PageAllocator::new(),
    arena_registered: false,
});

/// Runs `f` on the global page allocator, with its lock held. The first call
/// registers the binary's static arena as the first region.
fn with_pages<R>(f: impl FnOnce(&mut PageAllocator) -> R) -> R {
    PAGES.with(|pages| {
        if !pages.arena_registered {
            pages.arena_registered = true;
            let declared = arena::declared();
            if !declared.start.is_null() {
                // SAFETY: the arena macros return a static buffer that only
                // the page allocator ever accesses, registered exactly once
                // (guarded by `arena_registered`, under the lock).
                unsafe { pages.allocator.add_region(declared.start, declared.len) };
            }
        }
        f(&mut pages.allocator)
    })
}

/// What [`custom_mmap`] returns on failure: `(void*)-1`, never null.
fn mmap_failed() -> *mut c_void {
    ptr::without_provenance_mut(usize::MAX)
}

/// The page size of this platform: [`PAGE_SIZE`], 4096 bytes.
///
/// Bare-metal memory has no hardware page size to ask for; 4096 is the unit
/// of the page allocator and the alignment of the static arena. The core
/// looks this hook up weakly and uses it for every length it passes to
/// [`custom_mmap`] and [`custom_munmap`].
#[unsafe(no_mangle)]
pub extern "C" fn custom_page_size() -> usize {
    PAGE_SIZE
}

/// Hands out `len` bytes (rounded up to whole pages), page aligned, from the
/// static arena and the added regions.
///
/// Returns `usize::MAX as *mut c_void` (`(void*)-1`) when no free run is
/// large enough or `len` is 0, never null. Requests are served first fit
/// from the lowest address, so consecutive requests are adjacent and the
/// core merges them into one segment. The memory is not zeroed.
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
    match with_pages(|pages| pages.alloc(len)) {
        Some(mem) => mem.as_ptr().cast(),
        None => mmap_failed(),
    }
}

/// Gives `[ptr, ptr + len)` back to the page allocator; returns 0 on success
/// and -1 on failure.
///
/// The range may be a whole range from [`custom_mmap`], several adjacent
/// ones, or any page-aligned part of them (the core frees tails when it
/// trims); it is merged with free neighbours and handed out again later. A
/// range that is not page aligned (start or length), is empty, lies outside
/// the arena and regions, or overlaps free pages is refused with -1, and
/// nothing changes.
///
/// # Safety
///
/// The range must no longer be used: the page allocator writes its
/// bookkeeping into it and hands it out again, so any later access through
/// an old pointer is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_munmap(ptr: *mut c_void, len: usize) -> i32 {
    // SAFETY: the caller guarantees the range is no longer used; the page
    // allocator checks that it was handed out.
    match with_pages(|pages| unsafe { pages.free(ptr.cast(), len) }) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

/// Hands the memory `[start, start + len)` to the page allocator, for the
/// heap to use; returns the number of bytes added.
///
/// The range is trimmed inward to whole pages ([`PAGE_SIZE`]), so the
/// result may be less than `len`. Returns 0 (and adds nothing) when no
/// whole page remains, when the range overlaps the static arena or a region
/// added earlier, or when 16 regions ([`MAX_REGIONS`], the static arena
/// included) are already registered.
///
/// A kernel or firmware calls this at boot with the RAM its memory map
/// reports free; it may be called at any time, from any thread.
///
/// # Safety
///
/// The range must be valid for reads and writes for the rest of the
/// program, and nothing else may access it from now on except through
/// memory the allocator hands out; otherwise the behavior is undefined. It
/// need not be initialised.
///
/// [`MAX_REGIONS`]: crate::MAX_REGIONS
pub unsafe fn add_region(start: *mut u8, len: usize) -> usize {
    // SAFETY: the caller hands the range over for good.
    with_pages(|pages| unsafe { pages.add_region(start, len) })
}

/// The page allocator's figures: bytes in the arena and regions, bytes not
/// handed out to the heap, number of regions.
///
/// `total_bytes - free_bytes` is what the core has obtained through
/// [`custom_mmap`] and not given back. The first call registers the static
/// arena, like the first allocation does.
pub fn arena_stats() -> ArenaStats {
    with_pages(|pages| pages.stats())
}
