//! The heaps a run exercises, behind one interface: the global heap (the
//! `dl*` API) and mspaces (the `mspace_*` API).

use core::ffi::{c_char, c_void};
use core::ptr::null_mut;

use dlmalloc_sys::*;

/// One heap under test.
#[derive(Clone, Copy)]
pub enum Heap {
    /// The process-wide heap.
    Global,
    /// An mspace created by this run.
    Space(Mspace),
}

impl Heap {
    /// `dlmalloc` / `mspace_malloc`.
    pub unsafe fn malloc(self, n: usize) -> *mut u8 {
        // SAFETY: any size is accepted; an mspace handle is live (caller).
        unsafe {
            match self {
                Heap::Global => dlmalloc(n),
                Heap::Space(m) => mspace_malloc(m, n),
            }
        }
        .cast()
    }

    /// `dlcalloc` / `mspace_calloc`.
    pub unsafe fn calloc(self, count: usize, size: usize) -> *mut u8 {
        // SAFETY: as for malloc.
        unsafe {
            match self {
                Heap::Global => dlcalloc(count, size),
                Heap::Space(m) => mspace_calloc(m, count, size),
            }
        }
        .cast()
    }

    /// `dlfree` / `mspace_free`.
    pub unsafe fn free(self, p: *mut u8) {
        // SAFETY: p is a live block of this heap (caller).
        unsafe {
            match self {
                Heap::Global => dlfree(p.cast()),
                Heap::Space(m) => mspace_free(m, p.cast()),
            }
        }
    }

    /// `dlrealloc` / `mspace_realloc`.
    pub unsafe fn realloc(self, p: *mut u8, n: usize) -> *mut u8 {
        // SAFETY: p is a live block of this heap (caller).
        unsafe {
            match self {
                Heap::Global => dlrealloc(p.cast(), n),
                Heap::Space(m) => mspace_realloc(m, p.cast(), n),
            }
        }
        .cast()
    }

    /// `dlrealloc_in_place` / `mspace_realloc_in_place`.
    pub unsafe fn realloc_in_place(self, p: *mut u8, n: usize) -> *mut u8 {
        // SAFETY: p is a live block of this heap (caller).
        unsafe {
            match self {
                Heap::Global => dlrealloc_in_place(p.cast(), n),
                Heap::Space(m) => mspace_realloc_in_place(m, p.cast(), n),
            }
        }
        .cast()
    }

    /// `dlmemalign` / `mspace_memalign`.
    pub unsafe fn memalign(self, align: usize, n: usize) -> *mut u8 {
        // SAFETY: any alignment and size are accepted.
        unsafe {
            match self {
                Heap::Global => dlmemalign(align, n),
                Heap::Space(m) => mspace_memalign(m, align, n),
            }
        }
        .cast()
    }

    /// `dlindependent_comalloc` / `mspace_independent_comalloc`: one block
    /// per entry of `sizes`, their addresses written to `chunks` (which must
    /// hold `sizes.len()` pointers) or, when `chunks` is null, to an array
    /// the heap allocates too. Returns the array, or null on failure.
    pub unsafe fn independent_comalloc(
        self,
        sizes: &[usize],
        chunks: *mut *mut c_void,
    ) -> *mut *mut c_void {
        // SAFETY: `sizes` holds sizes.len() elements; `chunks` is null or
        // holds as many (caller).
        unsafe {
            match self {
                Heap::Global => dlindependent_comalloc(sizes.len(), sizes.as_ptr(), chunks),
                Heap::Space(m) => {
                    mspace_independent_comalloc(m, sizes.len(), sizes.as_ptr(), chunks)
                }
            }
        }
    }

    /// `dlindependent_calloc` / `mspace_independent_calloc`: `n` zeroed
    /// blocks of `elem_size` bytes; `chunks` as for
    /// [`Heap::independent_comalloc`].
    pub unsafe fn independent_calloc(
        self,
        n: usize,
        elem_size: usize,
        chunks: *mut *mut c_void,
    ) -> *mut *mut c_void {
        // SAFETY: `chunks` is null or holds n pointers (caller).
        unsafe {
            match self {
                Heap::Global => dlindependent_calloc(n, elem_size, chunks),
                Heap::Space(m) => mspace_independent_calloc(m, n, elem_size, chunks),
            }
        }
    }

    /// `dlbulk_free` / `mspace_bulk_free`.
    pub unsafe fn bulk_free(self, blocks: &mut [*mut c_void]) -> usize {
        // SAFETY: every entry is a live block of this heap or null (caller).
        unsafe {
            match self {
                Heap::Global => dlbulk_free(blocks.as_mut_ptr(), blocks.len()),
                Heap::Space(m) => mspace_bulk_free(m, blocks.as_mut_ptr(), blocks.len()),
            }
        }
    }

    /// `dlmalloc_trim` / `mspace_trim`; true when memory was released.
    pub unsafe fn trim(self, pad: usize) -> bool {
        // SAFETY: any pad is accepted.
        let released = unsafe {
            match self {
                Heap::Global => dlmalloc_trim(pad),
                Heap::Space(m) => mspace_trim(m, pad),
            }
        };
        released != 0
    }

    /// Current footprint.
    pub unsafe fn footprint(self) -> usize {
        // SAFETY: reads a statistic.
        unsafe {
            match self {
                Heap::Global => dlmalloc_footprint(),
                Heap::Space(m) => mspace_footprint(m),
            }
        }
    }

    /// The largest footprint the heap has had.
    pub unsafe fn max_footprint(self) -> usize {
        // SAFETY: reads a statistic.
        unsafe {
            match self {
                Heap::Global => dlmalloc_max_footprint(),
                Heap::Space(m) => mspace_max_footprint(m),
            }
        }
    }

    /// The footprint limit in force.
    pub unsafe fn footprint_limit(self) -> usize {
        // SAFETY: reads a setting.
        unsafe {
            match self {
                Heap::Global => dlmalloc_footprint_limit(),
                Heap::Space(m) => mspace_footprint_limit(m),
            }
        }
    }

    /// `dlmallinfo` / `mspace_mallinfo`.
    pub unsafe fn mallinfo(self) -> MallInfo {
        // SAFETY: reads statistics under the heap's lock.
        unsafe {
            match self {
                Heap::Global => dlmallinfo(),
                Heap::Space(m) => mspace_mallinfo(m),
            }
        }
    }

    /// `dlmalloc_inspect_all` / `mspace_inspect_all`, keeping the in-use
    /// chunks as `(start, usable bytes)` in `out` up to its capacity (the
    /// handler runs under the heap lock, so it must not allocate). Returns
    /// false when there were more than fit.
    pub unsafe fn inspect_in_use(self, out: &mut Vec<(usize, usize)>) -> bool {
        let mut seen = InUse {
            chunks: out,
            overflowed: false,
        };
        let arg = (&raw mut seen).cast::<c_void>();
        // SAFETY: `record_in_use` only writes into `seen`, which outlives
        // the call, and never allocates.
        unsafe {
            match self {
                Heap::Global => dlmalloc_inspect_all(Some(record_in_use), arg),
                Heap::Space(m) => mspace_inspect_all(m, Some(record_in_use), arg),
            }
        }
        !seen.overflowed
    }

    /// Sets the footprint limit; returns the limit in force.
    pub unsafe fn set_footprint_limit(self, bytes: usize) -> usize {
        // SAFETY: any value is accepted.
        unsafe {
            match self {
                Heap::Global => dlmalloc_set_footprint_limit(bytes),
                Heap::Space(m) => mspace_set_footprint_limit(m, bytes),
            }
        }
    }

    /// Runs the heap check; panics with every violation it reports.
    pub unsafe fn assert_consistent(self, after: &str) {
        let mut report = Report {
            count: 0,
            first: [0; 160],
            first_len: 0,
            at: 0,
        };
        let arg = (&raw mut report).cast::<c_void>();
        // SAFETY: `record` only writes into `report`, which outlives the call.
        let violations = unsafe {
            match self {
                Heap::Global => dlmalloc_check(Some(record), arg),
                Heap::Space(m) => mspace_check(m, Some(record), arg),
            }
        };
        if violations != 0 {
            let first = core::str::from_utf8(&report.first[..report.first_len]).unwrap_or("?");
            panic!(
                "heap check after {after}: {violations} violations; first: {first} at {:#x}",
                report.at
            );
        }
    }
}

/// Where the check callback records what it saw; it runs under the heap
/// lock, so it only copies bytes.
struct Report {
    count: usize,
    first: [u8; 160],
    first_len: usize,
    at: usize,
}

unsafe extern "C" fn record(what: *const c_char, at: *const c_void, arg: *mut c_void) {
    // SAFETY: arg is the Report passed by assert_consistent; `what` is a
    // NUL-terminated static string from the core.
    unsafe {
        let report = &mut *arg.cast::<Report>();
        if report.count == 0 {
            let text = core::ffi::CStr::from_ptr(what).to_bytes();
            let n = text.len().min(report.first.len());
            report.first[..n].copy_from_slice(&text[..n]);
            report.first_len = n;
            report.at = at as usize;
        }
        report.count += 1;
    }
}

/// Where the inspect handler collects in-use chunks.
struct InUse<'a> {
    chunks: &'a mut Vec<(usize, usize)>,
    overflowed: bool,
}

unsafe extern "C" fn record_in_use(
    start: *mut c_void,
    end: *mut c_void,
    used: usize,
    arg: *mut c_void,
) {
    // SAFETY: arg is the InUse passed by inspect_in_use.
    let seen = unsafe { &mut *arg.cast::<InUse<'_>>() };
    if used == 0 {
        return; // a free chunk
    }
    assert_eq!(
        end as usize - start as usize,
        used,
        "inspect_all: an in-use range that is not its used bytes"
    );
    if seen.chunks.len() < seen.chunks.capacity() {
        seen.chunks.push((start as usize, used));
    } else {
        seen.overflowed = true;
    }
}

/// A null block pointer, for arrays handed to the C API.
pub const NULL: *mut c_void = null_mut();
