//! System memory for the core: `custom_mmap`, `custom_munmap` and
//! `custom_page_size`, plus counters of what is currently mapped through them.

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

/// Bytes currently mapped through these hooks: everything [`custom_mmap`]
/// handed out minus everything [`custom_munmap`] released.
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
