//! The table of live blocks the churns and the fill work on, verifying
//! every block it touches: the native harness's `Table` without `std`.
//! Its slots are a static array, so they do not come from the allocator
//! under test (the native harness takes them from the system allocator).

use alloc::alloc::{alloc, dealloc, realloc};
use core::alloc::Layout;
use core::ptr;

use crate::clock::Deadline;
use crate::stamp;

/// Blocks are asked with this alignment, as in the native harness.
pub const ALIGN: usize = 8;

/// The most slots a workload can use: the 100k-live churns need 100 000,
/// and a fill of 16 MiB with blocks of 16 B-1 KiB about 40 000.
pub const CAPACITY: usize = 100_000;

/// What every failed check names (the driver knows which module and
/// workload trapped).
const WHAT: &str = "wasm-speed";

/// One slot: a live block and what was written into it.
#[derive(Clone, Copy)]
struct Slot {
    ptr: *mut u8,
    size: usize,
    tag: u64,
}

const EMPTY: Slot = Slot {
    ptr: ptr::null_mut(),
    size: 0,
    tag: 0,
};

/// `hash` with `value` hashed in (FNV-1a's step on a whole word: cheap,
/// and order-sensitive, so the same values in another order differ).
pub fn mix(hash: u64, value: u64) -> u64 {
    (hash ^ value).wrapping_mul(0x0000_0100_0000_01b3)
}

/// A 64-bit hash folded to the 32 bits a wasm export returns to Node as a
/// plain number.
pub fn fold(hash: u64) -> u32 {
    (hash ^ (hash >> 32)) as u32
}

static mut SLOTS: [Slot; CAPACITY] = [EMPTY; CAPACITY];

/// The first `len` slots of [`SLOTS`], each empty or holding a verified
/// block of the global allocator.
pub struct Table {
    slots: &'static mut [Slot],
    next_id: u64,
    /// Bytes asked for by the blocks now live.
    pub live_bytes: usize,
    /// A hash of every check so far (slot, size and tag, in order): the
    /// same for every allocator that passes the checks, so the driver can
    /// tell that every module did the same work.
    sum: u64,
}

impl Table {
    /// An empty table of `len` slots.
    ///
    /// # Panics
    ///
    /// If `len` is above [`CAPACITY`].
    pub fn take(len: usize) -> Table {
        assert!(len <= CAPACITY, "table of {len} slots");
        // SAFETY: wasm32-unknown-unknown without atomics runs one thread,
        // the exports do not call each other, and each export takes the
        // table once: so this is the only reference to SLOTS while it lives.
        let all: &'static mut [Slot; CAPACITY] = unsafe { &mut *ptr::addr_of_mut!(SLOTS) };
        let slots = &mut all[..len];
        slots.fill(EMPTY);
        Table {
            slots,
            next_id: 1,
            live_bytes: 0,
            sum: 0,
        }
    }

    /// The hash of every check so far, folded to 32 bits.
    pub fn checksum(&self) -> u32 {
        fold(self.sum)
    }

    /// Allocates `size` (>= 16) bytes into the empty slot `i`; false if the
    /// allocator returned null.
    pub fn try_alloc(&mut self, i: usize, size: usize) -> bool {
        debug_assert!(self.slots[i].ptr.is_null());
        let layout = Layout::from_size_align(size, ALIGN).expect("valid layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc(layout) };
        if ptr.is_null() {
            return false;
        }
        stamp::check_fresh(ptr, layout, WHAT);
        let tag = stamp::tag(self.next_id);
        self.next_id += 1;
        // SAFETY: the allocator gave `size` (>= 8) writable bytes.
        unsafe { stamp::write(ptr, size, tag) };
        self.slots[i] = Slot { ptr, size, tag };
        self.live_bytes += size;
        true
    }

    /// Allocates `size` bytes into the empty slot `i`.
    ///
    /// # Panics
    ///
    /// If the allocator returns null.
    pub fn alloc(&mut self, i: usize, size: usize) {
        assert!(self.try_alloc(i, size), "{WHAT}: allocation failed");
    }

    /// Verifies the block in slot `i` (which must be live).
    fn check(&mut self, i: usize) -> Slot {
        let slot = self.slots[i];
        // SAFETY: the block is live with `slot.size` bytes, stamped by us.
        unsafe { stamp::check(slot.ptr, slot.size, slot.tag, WHAT) };
        self.sum = mix(self.sum, slot.tag ^ (slot.size as u64) << 40 ^ i as u64);
        slot
    }

    /// Verifies and frees the block in slot `i`, if any.
    pub fn free(&mut self, i: usize) {
        if self.slots[i].ptr.is_null() {
            return;
        }
        let slot = self.check(i);
        let layout = Layout::from_size_align(slot.size, ALIGN).expect("valid layout");
        // SAFETY: the block came from the global allocator with this layout.
        unsafe { dealloc(slot.ptr, layout) };
        self.slots[i] = EMPTY;
        self.live_bytes -= slot.size;
    }

    /// Resizes the live block in slot `i` to `size` (>= 16) bytes, checking
    /// that the contents it had survived.
    pub fn realloc(&mut self, i: usize, size: usize) {
        let slot = self.check(i);
        let layout = Layout::from_size_align(slot.size, ALIGN).expect("valid layout");
        // SAFETY: the block came from the global allocator with this
        // layout, and the new size is non-zero and does not overflow.
        let ptr = unsafe { realloc(slot.ptr, layout, size) };
        stamp::check_fresh(ptr, Layout::from_size_align(size, ALIGN).unwrap(), WHAT);
        if size >= slot.size {
            // SAFETY: the old contents (both words) lie within the new block.
            unsafe { stamp::check(ptr, slot.size, slot.tag, WHAT) };
        } else {
            // SAFETY: the new block has at least 8 bytes.
            unsafe { stamp::check_head(ptr, slot.tag, WHAT) };
        }
        // SAFETY: the new block has `size` (>= 8) writable bytes.
        unsafe { stamp::write(ptr, size, slot.tag) };
        self.live_bytes = self.live_bytes - slot.size + size;
        self.slots[i] = Slot { ptr, size, ..slot };
    }

    /// Moves the block in slot `from` to the empty slot `to`, leaving
    /// `from` empty (the fill keeps its live blocks packed at the front).
    pub fn relocate(&mut self, from: usize, to: usize) {
        debug_assert!(self.slots[to].ptr.is_null());
        self.slots[to] = self.slots[from];
        self.slots[from] = EMPTY;
    }

    /// Verifies every live block and forgets it without freeing it.
    pub fn check_and_leak(&mut self) {
        for i in 0..self.slots.len() {
            if !self.slots[i].ptr.is_null() {
                self.check(i);
                self.slots[i] = EMPTY;
            }
        }
        self.live_bytes = 0;
    }

    /// Frees every live block until `deadline`, then verifies and leaks the
    /// rest and returns false, as the native harness does: allocators whose
    /// free walks a list take minutes to free 100k blocks.
    pub fn clear_until(&mut self, deadline: Deadline) -> bool {
        for i in 0..self.slots.len() {
            if i % 256 == 0 && deadline.passed() {
                self.check_and_leak();
                return false;
            }
            self.free(i);
        }
        true
    }
}
