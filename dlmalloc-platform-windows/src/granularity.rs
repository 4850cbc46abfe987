//! The core's granularity (the unit in which it asks for system memory),
//! set to the system's allocation granularity before `main`.
//!
//! Why it is set here and at run time: the core learns the page size from
//! the optional `custom_page_size` hook only where weak symbols exist, and
//! COFF has none; its built-in default granularity is 2 MiB. On Windows
//! every reservation takes address space in units of the allocation
//! granularity (64 KiB), so that unit is the natural one: a heap that
//! grows asks for 64 KiB more at a time instead of doubling its requests
//! up to 2 MiB (so at most 64 KiB, not 2 MiB, of committed memory waits
//! unused), and an mspace created with capacity 0 commits 64 KiB. A DLL's
//! small heap stays small. The only way to tell the core at run time is
//! `dlmallopt(M_GRANULARITY, ..)`, and this file calls it from the C
//! runtime's initializer table, which both the MSVC and the mingw-w64 C
//! runtime run before `main` (for an EXE) or before `DllMain` (for a DLL).
//!
//! A granularity the user chose at build time (`DEFAULT_MMAP_GRANULARITY`,
//! the build variable of `dlmalloc-sys`) wins: then nothing is set (the
//! build script passes `dlmalloc_granularity_chosen`). A later
//! `dlmallopt(M_GRANULARITY, ..)` by the program wins too.

use core::ffi::c_int;

use dlmalloc_sys::{M_GRANULARITY, dlmallopt};

use crate::system::allocation_granularity;

/// Sets the core's granularity to the system's allocation granularity
/// (64 KiB) with `dlmallopt(M_GRANULARITY, ..)`; returns whether the core
/// accepted it.
///
/// The platform calls this by itself before `main` (or, in a DLL, before
/// `DllMain`), unless `DEFAULT_MMAP_GRANULARITY` was set at build time.
/// Call it yourself only in a program that does not run the C runtime's
/// initializers (a `no_main` image with its own entry point). It allocates
/// nothing; the first call into the core also sets the core up.
pub fn set_granularity_from_system() -> bool {
    let Ok(granularity) = c_int::try_from(allocation_granularity()) else {
        return false;
    };
    // SAFETY: dlmallopt has no preconditions; it takes the global heap's
    // lock and validates the value (a power of two of at least a page).
    unsafe { dlmallopt(M_GRANULARITY, granularity) == 1 }
}

/// The C runtime's initializer: runs [`set_granularity_from_system`].
#[cfg(not(dlmalloc_granularity_chosen))]
extern "C" fn initializer() {
    set_granularity_from_system();
}

/// The initializer's entry in the C runtime's table of C++-style
/// constructors (`.CRT$XCA` .. `.CRT$XCZ`; `U` is the slot for user code).
/// `#[used]` keeps it although nothing names it; [`keep_initializer`] makes
/// sure the object file holding it is linked.
#[cfg(not(dlmalloc_granularity_chosen))]
#[used]
#[unsafe(link_section = ".CRT$XCU")]
static INITIALIZER: extern "C" fn() = initializer;

/// Refers to the initializer's table entry, so the linker keeps it.
///
/// A static that nothing refers to sits in some object file of this crate;
/// if no symbol of that object is needed the linker may leave the object
/// (and so the entry) out. `custom_mmap` calls this, and the core always
/// refers to `custom_mmap`.
#[inline(always)]
pub(crate) fn keep_initializer() {
    #[cfg(not(dlmalloc_granularity_chosen))]
    core::hint::black_box(&INITIALIZER);
}
