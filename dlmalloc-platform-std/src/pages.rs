//! System memory for the core: `custom_mmap`, `custom_munmap`,
//! `custom_page_size` and (on Linux) `custom_mremap`, plus counters of what
//! is currently mapped through them.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The page size, read from the system on first use; 0 until then.
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
/// Bytes currently mapped through [`custom_mmap`] and not yet unmapped.
static MAPPED_BYTES: AtomicUsize = AtomicUsize::new(0);
/// Successful [`custom_mmap`] calls.
static MAP_COUNT: AtomicUsize = AtomicUsize::new(0);
/// Successful [`custom_munmap`] calls.
static UNMAP_COUNT: AtomicUsize = AtomicUsize::new(0);
/// Successful `custom_mremap` calls (Linux only; stays 0 elsewhere).
static REMAP_COUNT: AtomicUsize = AtomicUsize::new(0);

/// What [`custom_mmap`] returns on failure: `(void*)-1`, never null.
fn mmap_failed() -> *mut c_void {
    ptr::without_provenance_mut(usize::MAX)
}

/// The system page size (`sysconf(_SC_PAGESIZE)`), a power of two.
///
/// Read once and cached; the core looks this hook up as an optional (weak)
/// symbol and uses it for every length it passes to [`custom_mmap`] and
/// [`custom_munmap`].
#[unsafe(no_mangle)]
pub extern "C" fn custom_page_size() -> usize {
    let cached = PAGE_SIZE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf only reads a system constant; it has no preconditions.
    let queried = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let size = match usize::try_from(queried) {
        Ok(size) if size.is_power_of_two() => size,
        _ => crate::abort::die(b"sysconf(_SC_PAGESIZE) gave no usable page size"),
    };
    // Every thread computes the same value, so a plain store is race-free.
    PAGE_SIZE.store(size, Ordering::Relaxed);
    size
}

/// Rounds `len` up to a multiple of `page`; `None` on overflow.
fn round_to_pages(len: usize, page: usize) -> Option<usize> {
    Some(len.checked_add(page - 1)? & !(page - 1))
}

/// Maps `len` bytes of fresh, private, readable and writable memory.
///
/// Returns a page-aligned pointer, or `usize::MAX as *mut c_void`
/// (`(void*)-1`) on failure, never null. `len` is rounded up to whole pages
/// (the core always passes whole pages already); 0 fails. The memory is
/// zero-filled by the kernel, though the core does not rely on that.
#[unsafe(no_mangle)]
pub extern "C" fn custom_mmap(len: usize) -> *mut c_void {
    // Calling the `custom_page_size` symbol here is deliberate, not only a
    // way to learn the page size. The core refers to `custom_page_size`
    // weakly, and a weak reference does not pull an object file out of an
    // archive: if this crate's code were split so that `custom_page_size`
    // sat alone in an object, the linker would leave it out, the weak
    // reference would resolve to null, and the core would silently assume
    // 4096-byte pages. This call is a strong reference, so whenever
    // `custom_mmap` is linked, `custom_page_size` is linked too.
    let page = custom_page_size();
    // The same holds for the optional `custom_mremap`: without this strong
    // reference the core could silently lose it and copy every large
    // block it grows. `black_box` keeps the reference from being optimised
    // away; it costs nothing next to the system call below.
    #[cfg(target_os = "linux")]
    core::hint::black_box(custom_mremap as unsafe extern "C" fn(_, _, _, _) -> _);
    let Some(len) = round_to_pages(len, page) else {
        return mmap_failed();
    };
    if len == 0 {
        return mmap_failed();
    }
    // SAFETY: an anonymous private mapping at an address the kernel chooses
    // touches no existing memory; failure is reported as MAP_FAILED.
    let mem = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANON,
            -1,
            0,
        )
    };
    if mem == libc::MAP_FAILED || mem.is_null() {
        return mmap_failed();
    }
    debug_assert_eq!(
        mem.addr() & (page - 1),
        0,
        "mmap returned an unaligned address"
    );
    MAPPED_BYTES.fetch_add(len, Ordering::Relaxed);
    MAP_COUNT.fetch_add(1, Ordering::Relaxed);
    mem
}

/// Unmaps `len` bytes at `ptr`; returns 0 on success and -1 on failure.
///
/// `ptr` must be page aligned; `len` is rounded up to whole pages. The range
/// may be a whole mapping from [`custom_mmap`], several adjacent ones, or the
/// tail of such a run: the kernel handles all three. On failure nothing is
/// unmapped and the counters are unchanged, so the caller keeps the memory.
///
/// # Safety
///
/// The range must have come from [`custom_mmap`] and must no longer be used:
/// any later access to it is undefined behavior. Unmapping memory that did
/// not come from [`custom_mmap`] is undefined behavior too (it may belong to
/// the program) and makes [`mapped_bytes`] meaningless.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_munmap(ptr: *mut c_void, len: usize) -> i32 {
    let Some(len) = round_to_pages(len, custom_page_size()) else {
        return -1;
    };
    // SAFETY: the caller guarantees the range came from custom_mmap and is
    // no longer used; the kernel rejects unaligned or empty ranges itself.
    if unsafe { libc::munmap(ptr, len) } != 0 {
        return -1;
    }
    MAPPED_BYTES.fetch_sub(len, Ordering::Relaxed);
    UNMAP_COUNT.fetch_add(1, Ordering::Relaxed);
    0
}

/// Resizes a mapping with `mremap(2)`: the optional hook through which the
/// core grows a large block's own mapping without copying it.
///
/// `old_len` and `new_len` are rounded up to whole pages; either being 0
/// fails. With `may_move` 0 the mapping only grows or shrinks where it is
/// (the pages after it must be free); otherwise the kernel may move it,
/// taking the pages with it instead of copying their contents. Returns the
/// mapping's (possibly new) start, or `usize::MAX as *mut c_void`
/// (`(void*)-1`) on failure, in which case the old mapping and the counters
/// are unchanged. [`mapped_bytes`] follows the change in length;
/// [`map_count`] does not move, [`remap_count`] counts the call.
///
/// # Safety
///
/// `old` must be the page-aligned start of a mapping of `old_len` bytes that
/// came from [`custom_mmap`] or from this function; anything else is
/// undefined behavior (the range may belong to the program). When the
/// mapping moves, or shrinks, any later access to the old range (or the
/// dropped tail) is undefined behavior.
#[cfg(target_os = "linux")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_mremap(
    old: *mut c_void,
    old_len: usize,
    new_len: usize,
    may_move: i32,
) -> *mut c_void {
    let page = custom_page_size();
    let (Some(old_len), Some(new_len)) =
        (round_to_pages(old_len, page), round_to_pages(new_len, page))
    else {
        return mmap_failed();
    };
    if old_len == 0 || new_len == 0 {
        return mmap_failed();
    }
    let flags = if may_move != 0 {
        libc::MREMAP_MAYMOVE
    } else {
        0
    };
    // SAFETY: the caller guarantees [old, old + old_len) is a whole mapping
    // from these hooks that nothing else uses; mremap either resizes (and
    // perhaps moves) it or fails leaving it as it was.
    let mem = unsafe { libc::mremap(old, old_len, new_len, flags) };
    if mem == libc::MAP_FAILED || mem.is_null() {
        return mmap_failed();
    }
    debug_assert_eq!(
        mem.addr() & (page - 1),
        0,
        "mremap returned an unaligned address"
    );
    if new_len >= old_len {
        MAPPED_BYTES.fetch_add(new_len - old_len, Ordering::Relaxed);
    } else {
        MAPPED_BYTES.fetch_sub(old_len - new_len, Ordering::Relaxed);
    }
    REMAP_COUNT.fetch_add(1, Ordering::Relaxed);
    mem
}

/// Bytes currently mapped through these hooks: everything [`custom_mmap`]
/// handed out, plus growth and minus shrinking by `custom_mremap`, minus
/// everything [`custom_munmap`] released.
///
/// For tests and diagnostics: for example, destroying a heap returns the
/// count to its level before the heap was created, and trimming lowers it.
/// The value is exact once all threads that allocate are quiescent.
pub fn mapped_bytes() -> usize {
    MAPPED_BYTES.load(Ordering::Relaxed)
}

/// Number of successful [`custom_mmap`] calls so far.
///
/// For tests and diagnostics, together with [`unmap_count`]. The two do not
/// pair up one to one: the core may release several adjacent mappings in one
/// call, or a mapping's tail and later its head.
pub fn map_count() -> usize {
    MAP_COUNT.load(Ordering::Relaxed)
}

/// Number of successful [`custom_munmap`] calls so far. See [`map_count`].
pub fn unmap_count() -> usize {
    UNMAP_COUNT.load(Ordering::Relaxed)
}

/// Number of successful `custom_mremap` calls so far: how often the core
/// resized a large block's mapping instead of mapping a new one and copying.
/// Always 0 where the hook does not exist (it is Linux only).
pub fn remap_count() -> usize {
    REMAP_COUNT.load(Ordering::Relaxed)
}
