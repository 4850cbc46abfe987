//! The page source of one arena: a fixed range of address space that the
//! arena's mspace takes its pages from (`create_mspace_with_source`), so
//! that every block of the arena lies in that range and its owner is found
//! from the address alone.
//!
//! The range is part of one reservation of address space for all arenas
//! ([`os::reserve`]: the platform's `custom_mmap` on Linux, where an
//! untouched mapping costs no memory; reserved, uncommitted pages on
//! Windows). `map` hands out pages of it ([`os::commit`] makes them usable
//! where the system needs that) and `unmap` gives them back to the system
//! ([`os::decommit`]), keeping the range, so the arena's footprint, trim
//! and release of free segments work as for any heap. Pages handed out read
//! as zeros until the heap writes them, whether fresh or given back before
//! (on Windows a decommitted page cannot even be read until committed
//! again, which `map` does before handing it out).
//!
//! The core grows a heap by mapping more and gives back whole mappings or
//! tails of them (possibly spanning adjacent ones); here pages are handed
//! out from the low end up (so growth is contiguous and the core merges it
//! into one segment), and a range given back below the high mark is
//! remembered as a hole for reuse.

use core::ffi::{c_int, c_void};

use super::os;

/// Ranges given back below the high mark that a region remembers; past
/// that, `unmap` refuses and the core keeps the memory (and uses it).
const HOLES: usize = 16;

/// The page source's state. Only the arena's mspace calls it, with the
/// mspace's lock held (or while the arena is created, under the registry
/// lock), so it needs no lock of its own.
pub(super) struct Region {
    /// The end of the reserved range (page aligned).
    end: usize,
    /// Pages at and above this are untouched.
    high: usize,
    /// `(start, length)` of ranges below `high` that were given back;
    /// length 0 marks a free slot.
    holes: [(usize, usize); HOLES],
}

impl Region {
    /// A region over no memory (before the reservation).
    pub(super) const EMPTY: Region = Region {
        end: 0,
        high: 0,
        holes: [(0, 0); HOLES],
    };

    /// A region over the reserved range `[start, end)`.
    pub(super) fn new(start: usize, end: usize) -> Region {
        Region {
            end,
            high: start,
            holes: [(0, 0); HOLES],
        }
    }

    /// `length` bytes (whole pages) of usable memory, or `None` (the range
    /// is full, or the system will not commit more).
    fn map(&mut self, length: usize) -> Option<usize> {
        if let Some(hole) = self.holes.iter_mut().find(|(_, len)| *len >= length) {
            let at = hole.0;
            if !os::commit(at, length) {
                return None;
            }
            hole.0 += length;
            hole.1 -= length;
            return Some(at);
        }
        if length > self.end - self.high || !os::commit(self.high, length) {
            return None;
        }
        let at = self.high;
        self.high += length;
        Some(at)
    }

    /// Gives `[at, at + length)` back to the system; `false` (nothing
    /// changed) if it cannot be remembered.
    fn unmap(&mut self, at: usize, length: usize) -> bool {
        let at_top = at + length == self.high;
        if !at_top && !self.holes.iter().any(|(_, len)| *len == 0) {
            return false;
        }
        if !release(at, length) {
            return false;
        }
        self.give_back(at, length);
        true
    }

    /// Books `[at, at + length)` as free: lowers the high mark when the
    /// range ends there (absorbing holes that then end there too), else
    /// records a hole (the caller made sure a slot is free).
    fn give_back(&mut self, at: usize, length: usize) {
        if at + length != self.high {
            if let Some(slot) = self.holes.iter_mut().find(|(_, len)| *len == 0) {
                *slot = (at, length);
            }
            return;
        }
        self.high = at;
        while let Some(hole) = self
            .holes
            .iter_mut()
            .find(|(start, len)| *len != 0 && start + len == self.high)
        {
            self.high = hole.0;
            *hole = (0, 0);
        }
    }
}

/// Gives pages back to the system, keeping the range. `false` if nothing
/// was released.
fn release(at: usize, length: usize) -> bool {
    // SAFETY: the heap gave the range back (it holds no live block), and it
    // lies in this arena's part of the reservation.
    unsafe { os::decommit(at, length) }
}

/// `custom_mmap` for an arena's mspace (`context` is its [`Region`]).
///
/// # Safety
///
/// `context` points to a live `Region` that only this call uses now (the
/// mspace's lock is held).
pub(super) unsafe extern "C" fn map(context: *mut c_void, length: usize) -> *mut c_void {
    if !global_limit_allows(length) {
        return core::ptr::null_mut();
    }
    // SAFETY: the caller's contract.
    let region = unsafe { &mut *context.cast::<Region>() };
    region
        .map(length)
        .map_or(core::ptr::null_mut(), |at| at as *mut c_void)
}

/// Whether `length` more bytes keep the global heap and its arenas within
/// the global footprint limit. The core checks this itself before it grows
/// an attached heap, but not for the first mapping of a heap it creates,
/// which is not attached yet.
fn global_limit_allows(length: usize) -> bool {
    // SAFETY: two reads of statistics, without locks.
    let (held, limit) = unsafe {
        (
            dlmalloc_sys::dlmalloc_footprint(),
            dlmalloc_sys::dlmalloc_footprint_limit(),
        )
    };
    held.checked_add(length).is_some_and(|total| total <= limit)
}

/// `custom_munmap` for an arena's mspace (`context` is its [`Region`]).
///
/// # Safety
///
/// As for [`map`]; `[base, base + length)` was mapped by it and holds no
/// live block.
pub(super) unsafe extern "C" fn unmap(
    context: *mut c_void,
    base: *mut c_void,
    length: usize,
) -> c_int {
    // SAFETY: the caller's contract.
    let region = unsafe { &mut *context.cast::<Region>() };
    if region.unmap(base as usize, length) {
        0
    } else {
        -1
    }
}
