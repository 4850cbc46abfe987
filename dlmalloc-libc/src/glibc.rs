//! glibc's own malloc interface, for programs that call it: `mallopt`,
//! `malloc_trim`, `mallinfo2`, `mallinfo` and `malloc_stats`. Figures cover
//! all the memory the allocator manages (the global heap and every
//! thread's arena), with the thread caches given back first.

use core::ffi::{c_int, c_void};
use core::fmt::{self, Write};

use dlmalloc::{DLMalloc, Stats, raw};

/// glibc's `struct mallinfo2`: ten `size_t` fields in glibc's order, the
/// same layout as the core's own report, whose type this is.
pub use dlmalloc::raw::MallInfo as Mallinfo2;

/// glibc's older `struct mallinfo`, with `int` fields: each value is
/// capped at `INT_MAX` rather than wrapped.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mallinfo {
    /// As [`Mallinfo2::arena`].
    pub arena: c_int,
    /// As [`Mallinfo2::ordblks`].
    pub ordblks: c_int,
    /// As [`Mallinfo2::smblks`].
    pub smblks: c_int,
    /// As [`Mallinfo2::hblks`].
    pub hblks: c_int,
    /// As [`Mallinfo2::hblkhd`].
    pub hblkhd: c_int,
    /// As [`Mallinfo2::usmblks`].
    pub usmblks: c_int,
    /// As [`Mallinfo2::fsmblks`].
    pub fsmblks: c_int,
    /// As [`Mallinfo2::uordblks`].
    pub uordblks: c_int,
    /// As [`Mallinfo2::fordblks`].
    pub fordblks: c_int,
    /// As [`Mallinfo2::keepcost`].
    pub keepcost: c_int,
}

/// The statistics of every heap in glibc's fields.
fn mallinfo2_of(stats: Stats) -> Mallinfo2 {
    Mallinfo2 {
        arena: stats.arena_bytes,
        ordblks: stats.free_chunks,
        smblks: 0,
        hblks: stats.mmapped_chunks,
        hblkhd: stats.mmapped_bytes,
        usmblks: stats.max_footprint,
        fsmblks: 0,
        uordblks: stats.in_use_bytes,
        fordblks: stats.free_bytes,
        keepcost: stats.top_bytes,
    }
}

impl From<Mallinfo2> for Mallinfo {
    fn from(info: Mallinfo2) -> Mallinfo {
        let int = |value: usize| c_int::try_from(value).unwrap_or(c_int::MAX);
        Mallinfo {
            arena: int(info.arena),
            ordblks: int(info.ordblks),
            smblks: int(info.smblks),
            hblks: int(info.hblks),
            hblkhd: int(info.hblkhd),
            usmblks: int(info.usmblks),
            fsmblks: int(info.fsmblks),
            uordblks: int(info.uordblks),
            fordblks: int(info.fordblks),
            keepcost: int(info.keepcost),
        }
    }
}

/// The statistics of every heap, as glibc's `mallinfo2` reports them.
#[unsafe(no_mangle)]
pub extern "C" fn mallinfo2() -> Mallinfo2 {
    mallinfo2_of(DLMalloc.stats())
}

/// [`mallinfo2`] with `int` fields, each capped at `INT_MAX`.
#[unsafe(no_mangle)]
pub extern "C" fn mallinfo() -> Mallinfo {
    mallinfo2().into()
}

/// Gives free memory back to the system, keeping `pad` bytes at the top of
/// the global heap. Returns 1 if any memory was released, else 0.
#[unsafe(no_mangle)]
pub extern "C" fn malloc_trim(pad: usize) -> c_int {
    c_int::from(DLMalloc.trim(pad))
}

/// glibc's parameter numbers (malloc.h), which differ from the core's.
mod param {
    use core::ffi::c_int;
    pub(super) const M_MXFAST: c_int = 1;
    pub(super) const M_TRIM_THRESHOLD: c_int = -1;
    pub(super) const M_TOP_PAD: c_int = -2;
    pub(super) const M_MMAP_THRESHOLD: c_int = -3;
    pub(super) const M_MMAP_MAX: c_int = -4;
    pub(super) const M_CHECK_ACTION: c_int = -5;
    pub(super) const M_PERTURB: c_int = -6;
    pub(super) const M_ARENA_TEST: c_int = -7;
    pub(super) const M_ARENA_MAX: c_int = -8;
}

/// glibc's `mallopt`: `M_TRIM_THRESHOLD` and `M_MMAP_THRESHOLD` set the
/// core's parameters of the same meaning; glibc's other parameters
/// (`M_MXFAST`, `M_TOP_PAD`, `M_MMAP_MAX`, `M_CHECK_ACTION`, `M_PERTURB`,
/// `M_ARENA_TEST`, `M_ARENA_MAX`) tune machinery this allocator does not
/// have, and are accepted without effect so that programs tuning glibc run
/// unchanged. Returns 1 when the parameter is accepted, 0 otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn mallopt(parameter: c_int, value: c_int) -> c_int {
    use param::*;
    match parameter {
        // SAFETY: dlmallopt only changes a tuning parameter.
        M_TRIM_THRESHOLD => unsafe { raw::dlmallopt(raw::M_TRIM_THRESHOLD, value) },
        // SAFETY: as above.
        M_MMAP_THRESHOLD => unsafe { raw::dlmallopt(raw::M_MMAP_THRESHOLD, value) },
        M_MXFAST | M_TOP_PAD | M_MMAP_MAX | M_CHECK_ACTION | M_PERTURB | M_ARENA_TEST
        | M_ARENA_MAX => 1,
        _ => 0,
    }
}

/// Writes the statistics of every heap to standard error, as glibc's
/// `malloc_stats` does (in this allocator's words).
#[unsafe(no_mangle)]
pub extern "C" fn malloc_stats() {
    let _ = writeln!(Stderr, "{}", DLMalloc.stats());
}

/// Standard error, written without allocating.
struct Stderr;

impl Write for Stderr {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text.as_bytes();
        while !rest.is_empty() {
            // SAFETY: writes from a live buffer of `rest.len()` bytes.
            let written = unsafe { libc::write(2, rest.as_ptr().cast::<c_void>(), rest.len()) };
            if written <= 0 {
                return Err(fmt::Error);
            }
            rest = &rest[written as usize..];
        }
        Ok(())
    }
}
