//! The reservation table: every `VirtualAlloc` reservation the page hooks
//! made and still hold, with how many of its bytes are still committed.
//!
//! `VirtualFree(MEM_RELEASE)` gives back only a whole reservation, from its
//! base, while the core gives back tails of mappings, and whole segments
//! that span several adjacent reservations. So the page hooks decommit
//! pieces and release a reservation once all of it is decommitted, and
//! they need to know, for any address, which reservation holds it and how
//! much of it is left: this table.
//!
//! It must not allocate through the allocator it serves (the core calls
//! the hooks with its heap lock held), so its array lives in pages of its
//! own, straight from `VirtualAlloc`, and grows by moving to a mapping
//! twice the size. It never shrinks (a heap that once needed many
//! reservations is likely to need them again); `release_all` frees it. Entries are sorted by base address, so a lookup is a
//! binary search; an insert shifts the entries above it, which costs
//! little next to the system call that made the reservation.
//!
//! The table is not locked here: `pages.rs` holds its lock around every
//! use.

use core::ffi::c_void;
use core::{mem, ptr, slice};

use windows_sys::Win32::System::Memory::{
    MEM_COMMIT, MEM_RELEASE, MEM_RESERVE, PAGE_READWRITE, VirtualAlloc, VirtualFree,
};

/// One reservation: `[base, base + size)`, of which `committed` bytes are
/// still committed (handed to the core and not given back). Only while
/// `custom_munmap` runs may an entry have 0 committed bytes: its
/// reservation was just released, and the call forgets it before it
/// returns.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reservation {
    pub(crate) base: usize,
    pub(crate) size: usize,
    pub(crate) committed: usize,
}

impl Reservation {
    /// One past the reservation's last byte.
    pub(crate) fn end(&self) -> usize {
        self.base + self.size
    }
}

/// The first mapping of the array: 64 KiB, one allocation granularity, so
/// no address space is wasted; 2730 entries on a 64-bit target.
const FIRST_TABLE_BYTES: usize = 64 << 10;

/// The sorted array of reservations and the totals the statistics report.
pub(crate) struct Table {
    /// The array's mapping (null until the first insert); `capacity`
    /// entries fit, the first `len` are in use.
    entries: *mut Reservation,
    capacity: usize,
    len: usize,
    /// Bytes of the array's mapping.
    table_bytes: usize,
}

// SAFETY: the array's pages belong to the table alone, and every access
// goes through the lock that pages.rs holds.
unsafe impl Send for Table {}

impl Table {
    /// An empty table with no array yet.
    pub(crate) const fn new() -> Self {
        Self {
            entries: ptr::null_mut(),
            capacity: 0,
            len: 0,
            table_bytes: 0,
        }
    }

    /// The entries, sorted by base.
    pub(crate) fn entries(&self) -> &[Reservation] {
        if self.entries.is_null() {
            return &[];
        }
        // SAFETY: the array holds `capacity >= len` entries, the first
        // `len` initialised; the table owns it for as long as `self` lives.
        unsafe { slice::from_raw_parts(self.entries, self.len) }
    }

    /// The entries, mutable.
    fn entries_mut(&mut self) -> &mut [Reservation] {
        if self.entries.is_null() {
            return &mut [];
        }
        // SAFETY: as in `entries`, and `&mut self` makes the access unique.
        unsafe { slice::from_raw_parts_mut(self.entries, self.len) }
    }

    /// The index of the reservation that holds `address`, if any.
    pub(crate) fn find(&self, address: usize) -> Option<usize> {
        let entries = self.entries();
        // Entries do not overlap: the one holding `address`, if any, is the
        // last one starting at or below it.
        let above = entries.partition_point(|r| r.base <= address);
        let index = above.checked_sub(1)?;
        (address < entries[index].end()).then_some(index)
    }

    /// The entry at `index` (from [`Table::find`]), mutable.
    pub(crate) fn get_mut(&mut self, index: usize) -> &mut Reservation {
        &mut self.entries_mut()[index]
    }

    /// Records a new, wholly committed reservation; false if the array is
    /// full and cannot grow (the table is then unchanged).
    pub(crate) fn insert(&mut self, base: usize, size: usize) -> bool {
        if self.len == self.capacity && !self.grow() {
            return false;
        }
        let at = self.entries().partition_point(|r| r.base < base);
        // SAFETY: len < capacity, so the array has room for one more entry;
        // `copy` handles the overlap of shifting entries at..len up by one.
        unsafe {
            let slot = self.entries.add(at);
            ptr::copy(slot, slot.add(1), self.len - at);
            slot.write(Reservation {
                base,
                size,
                committed: size,
            });
        }
        self.len += 1;
        true
    }

    /// Forgets the entries from `first` on whose reservations were
    /// released (`committed` is 0), in one pass: a call that gives back a
    /// run of many reservations shifts the array once, not once per
    /// reservation.
    pub(crate) fn forget_released(&mut self, first: usize) {
        let entries = self.entries_mut();
        let mut kept = first;
        for index in first..entries.len() {
            if entries[index].committed != 0 {
                entries[kept] = entries[index];
                kept += 1;
            }
        }
        self.len = kept;
    }

    /// Moves the array to a mapping twice the size (or the first mapping);
    /// false, with the table unchanged, if the system has no memory.
    fn grow(&mut self) -> bool {
        let bytes = match self.table_bytes {
            0 => FIRST_TABLE_BYTES,
            old => match old.checked_mul(2) {
                Some(bytes) => bytes,
                None => return false,
            },
        };
        // SAFETY: a fresh reservation at an address the system picks
        // touches no existing memory; failure is null.
        let fresh =
            unsafe { VirtualAlloc(ptr::null(), bytes, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE) };
        if fresh.is_null() {
            return false;
        }
        let fresh = fresh.cast::<Reservation>();
        if !self.entries.is_null() {
            // SAFETY: the new mapping is larger than the old one and does
            // not overlap it; both hold at least `len` entries.
            unsafe { ptr::copy_nonoverlapping(self.entries, fresh, self.len) };
            self.free_array();
        }
        self.entries = fresh;
        self.table_bytes = bytes;
        self.capacity = bytes / mem::size_of::<Reservation>();
        true
    }

    /// Releases the array's mapping; the table keeps `len` but has no
    /// array (the caller replaces it or empties the table).
    fn free_array(&mut self) {
        // SAFETY: `entries` is the base of a reservation this table made
        // and nothing else refers to it after this call.
        unsafe { VirtualFree(self.entries.cast::<c_void>(), 0, MEM_RELEASE) };
        self.entries = ptr::null_mut();
        self.capacity = 0;
        self.table_bytes = 0;
    }

    /// Empties the table and releases its own array: for
    /// [`release_all`](crate::release_all), after every reservation was
    /// released.
    pub(crate) fn clear(&mut self) {
        if !self.entries.is_null() {
            self.free_array();
        }
        self.len = 0;
    }
}
