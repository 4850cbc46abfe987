//! The global heap or one mspace behind one set of methods, so that a
//! scenario written once runs on both.

use core::ffi::c_void;

use dlmalloc_sys::*;

/// The global heap (the `dl*` API) or one mspace (the `mspace_*` API).
///
/// Methods that only take sizes are safe: a `Heap` of an mspace is made by
/// the unsafe [`Heap::mspace`], whose caller promises the handle stays live
/// while the value is used. Methods that take a block are unsafe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heap {
    msp: Option<Mspace>,
}

impl Heap {
    /// The process-wide heap.
    pub const GLOBAL: Heap = Heap { msp: None };

    /// The mspace `msp`.
    ///
    /// # Safety
    ///
    /// `msp` must be a live mspace handle (created and not destroyed) for as
    /// long as this value or a copy of it is used, and an mspace created
    /// unlocked must be used by one thread at a time; anything else is
    /// undefined behavior.
    pub const unsafe fn mspace(msp: Mspace) -> Heap {
        Heap { msp: Some(msp) }
    }

    /// The mspace handle, or `None` for the global heap.
    pub fn as_mspace(self) -> Option<Mspace> {
        self.msp
    }

    /// True for the global heap.
    pub fn is_global(self) -> bool {
        self.msp.is_none()
    }

    /// "global heap" or "mspace", for messages.
    pub fn name(self) -> &'static str {
        match self.msp {
            None => "global heap",
            Some(_) => "mspace",
        }
    }

    /// `dlmalloc` / `mspace_malloc`.
    pub fn malloc(self, bytes: usize) -> *mut u8 {
        // SAFETY: any size is accepted; an mspace is live (`Heap::mspace`).
        unsafe {
            match self.msp {
                None => dlmalloc(bytes),
                Some(m) => mspace_malloc(m, bytes),
            }
        }
        .cast()
    }

    /// `dlcalloc` / `mspace_calloc`.
    pub fn calloc(self, count: usize, size: usize) -> *mut u8 {
        // SAFETY: as for malloc.
        unsafe {
            match self.msp {
                None => dlcalloc(count, size),
                Some(m) => mspace_calloc(m, count, size),
            }
        }
        .cast()
    }

    /// `dlmemalign` / `mspace_memalign`.
    pub fn memalign(self, align: usize, bytes: usize) -> *mut u8 {
        // SAFETY: any alignment and size are accepted; an mspace is live.
        unsafe {
            match self.msp {
                None => dlmemalign(align, bytes),
                Some(m) => mspace_memalign(m, align, bytes),
            }
        }
        .cast()
    }

    /// `dlfree` / `mspace_free`.
    ///
    /// # Safety
    ///
    /// `p` must be null or a live block of this heap, not used afterwards;
    /// anything else is undefined behavior (or, for the misuse the core
    /// detects, an abort).
    pub unsafe fn free(self, p: *mut u8) {
        // SAFETY: forwarded from the caller.
        unsafe {
            match self.msp {
                None => dlfree(p.cast()),
                Some(m) => mspace_free(m, p.cast()),
            }
        }
    }

    /// `dlrealloc` / `mspace_realloc`.
    ///
    /// # Safety
    ///
    /// `p` must be null or a live block of this heap; on success only the
    /// returned pointer may be used. Anything else is undefined behavior.
    pub unsafe fn realloc(self, p: *mut u8, bytes: usize) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe {
            match self.msp {
                None => dlrealloc(p.cast(), bytes),
                Some(m) => mspace_realloc(m, p.cast(), bytes),
            }
        }
        .cast()
    }

    /// `dlrealloc_in_place` / `mspace_realloc_in_place`: `p` or null.
    ///
    /// # Safety
    ///
    /// `p` must be a live block of this heap; anything else is undefined
    /// behavior.
    pub unsafe fn realloc_in_place(self, p: *mut u8, bytes: usize) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe {
            match self.msp {
                None => dlrealloc_in_place(p.cast(), bytes),
                Some(m) => mspace_realloc_in_place(m, p.cast(), bytes),
            }
        }
        .cast()
    }

    /// `dlmalloc_usable_size` / `mspace_usable_size`.
    ///
    /// # Safety
    ///
    /// `p` must be null or a live block of this heap; anything else is
    /// undefined behavior.
    pub unsafe fn usable_size(self, p: *const u8) -> usize {
        // SAFETY: forwarded from the caller.
        unsafe {
            match self.msp {
                None => dlmalloc_usable_size(p.cast()),
                Some(_) => mspace_usable_size(p.cast()),
            }
        }
    }

    /// `dlindependent_comalloc` / `mspace_independent_comalloc`: one block
    /// per entry of `sizes`, their addresses written to `chunks` or, when
    /// `chunks` is null, to an array the heap allocates too. Returns the
    /// array, or null on failure.
    ///
    /// # Safety
    ///
    /// `chunks` must be null or valid for writes of `sizes.len()` pointers;
    /// anything else is undefined behavior.
    pub unsafe fn independent_comalloc(
        self,
        sizes: &[usize],
        chunks: *mut *mut c_void,
    ) -> *mut *mut c_void {
        // SAFETY: `sizes` holds sizes.len() elements; `chunks` as the
        // caller guarantees.
        unsafe {
            match self.msp {
                None => dlindependent_comalloc(sizes.len(), sizes.as_ptr(), chunks),
                Some(m) => mspace_independent_comalloc(m, sizes.len(), sizes.as_ptr(), chunks),
            }
        }
    }

    /// `dlindependent_calloc` / `mspace_independent_calloc`: `n` zeroed
    /// blocks of `elem_size` bytes; `chunks` as for
    /// [`Heap::independent_comalloc`].
    ///
    /// # Safety
    ///
    /// `chunks` must be null or valid for writes of `n` pointers; anything
    /// else is undefined behavior.
    pub unsafe fn independent_calloc(
        self,
        n: usize,
        elem_size: usize,
        chunks: *mut *mut c_void,
    ) -> *mut *mut c_void {
        // SAFETY: `chunks` as the caller guarantees.
        unsafe {
            match self.msp {
                None => dlindependent_calloc(n, elem_size, chunks),
                Some(m) => mspace_independent_calloc(m, n, elem_size, chunks),
            }
        }
    }

    /// `dlbulk_free` / `mspace_bulk_free`; returns the entries left unfreed.
    ///
    /// # Safety
    ///
    /// Every entry must be null or a live block of this heap, not used
    /// afterwards; anything else is undefined behavior.
    pub unsafe fn bulk_free(self, blocks: &mut [*mut c_void]) -> usize {
        // SAFETY: forwarded from the caller.
        unsafe {
            match self.msp {
                None => dlbulk_free(blocks.as_mut_ptr(), blocks.len()),
                Some(m) => mspace_bulk_free(m, blocks.as_mut_ptr(), blocks.len()),
            }
        }
    }

    /// `dlmalloc_trim` / `mspace_trim`; true when memory was released.
    pub fn trim(self, pad: usize) -> bool {
        // SAFETY: any pad is accepted; an mspace is live.
        let released = unsafe {
            match self.msp {
                None => dlmalloc_trim(pad),
                Some(m) => mspace_trim(m, pad),
            }
        };
        released != 0
    }

    /// The bytes the heap holds from the system.
    pub fn footprint(self) -> usize {
        // SAFETY: reads a statistic of a live heap.
        unsafe {
            match self.msp {
                None => dlmalloc_footprint(),
                Some(m) => mspace_footprint(m),
            }
        }
    }

    /// The largest footprint the heap has had.
    pub fn max_footprint(self) -> usize {
        // SAFETY: as above.
        unsafe {
            match self.msp {
                None => dlmalloc_max_footprint(),
                Some(m) => mspace_max_footprint(m),
            }
        }
    }

    /// The footprint limit in force (`usize::MAX`: none).
    pub fn footprint_limit(self) -> usize {
        // SAFETY: reads a setting of a live heap.
        unsafe {
            match self.msp {
                None => dlmalloc_footprint_limit(),
                Some(m) => mspace_footprint_limit(m),
            }
        }
    }

    /// Sets the footprint limit; returns the limit now in force.
    pub fn set_footprint_limit(self, bytes: usize) -> usize {
        // SAFETY: any value is accepted; an mspace is live.
        unsafe {
            match self.msp {
                None => dlmalloc_set_footprint_limit(bytes),
                Some(m) => mspace_set_footprint_limit(m, bytes),
            }
        }
    }

    /// `dlmallinfo` / `mspace_mallinfo`.
    pub fn mallinfo(self) -> MallInfo {
        // SAFETY: reads statistics of a live heap under its lock.
        unsafe {
            match self.msp {
                None => dlmallinfo(),
                Some(m) => mspace_mallinfo(m),
            }
        }
    }

    /// `dlmalloc_inspect_all` / `mspace_inspect_all` with `handler` and its
    /// argument.
    ///
    /// # Safety
    ///
    /// `handler` must be callable with `arg` for the whole walk, with the
    /// heap's lock held (so it must not allocate from this heap); anything
    /// else is undefined behavior.
    pub unsafe fn inspect_all(self, handler: Option<InspectHandler>, arg: *mut c_void) {
        // SAFETY: forwarded from the caller; an mspace is live.
        unsafe {
            match self.msp {
                None => dlmalloc_inspect_all(handler, arg),
                Some(m) => mspace_inspect_all(m, handler, arg),
            }
        }
    }

    /// `dlmalloc_check` / `mspace_check` with `report` and its argument;
    /// returns the number of violations.
    ///
    /// # Safety
    ///
    /// `report`, when given, must be callable with `arg` for the whole
    /// check, with the heap's lock held (so it must not allocate from this
    /// heap); anything else is undefined behavior.
    pub unsafe fn check(self, report: Option<CheckReport>, arg: *mut c_void) -> usize {
        // SAFETY: forwarded from the caller; an mspace is live.
        unsafe {
            match self.msp {
                None => dlmalloc_check(report, arg),
                Some(m) => mspace_check(m, report, arg),
            }
        }
    }
}
