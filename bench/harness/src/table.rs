//! A table of live blocks that a churn workload allocates into, frees from
//! and resizes, verifying every block it touches.

use core::alloc::{GlobalAlloc, Layout};

use crate::stamp;

/// Blocks are asked with this alignment: the one Rust's own collections
/// use for byte buffers on 64-bit targets is 1, but most real requests are
/// for words, and every allocator here serves 8 natively.
pub const ALIGN: usize = 8;

/// One slot: a live block and what was written into it.
#[derive(Clone, Copy)]
struct Slot {
    ptr: *mut u8,
    size: usize,
    tag: u64,
}

const EMPTY: Slot = Slot {
    ptr: core::ptr::null_mut(),
    size: 0,
    tag: 0,
};

/// A fixed number of slots, each empty or holding a verified block of one
/// allocator.
pub struct Table<'a> {
    alloc: &'a dyn GlobalAlloc,
    what: &'a str,
    slots: Vec<Slot>,
    next_id: u64,
    /// Bytes asked for by the blocks now live.
    pub live_bytes: usize,
    /// Whether new blocks are written whole (the footprint workloads need
    /// every page touched) rather than only at both ends.
    pub fill: bool,
}

impl<'a> Table<'a> {
    /// An empty table of `len` slots for `alloc`; `what` names the
    /// allocator and workload in failure messages. The slots themselves
    /// come from the harness's allocator, not from `alloc`.
    pub fn new(alloc: &'a dyn GlobalAlloc, len: usize, what: &'a str) -> Table<'a> {
        Table {
            alloc,
            what,
            slots: vec![EMPTY; len],
            next_id: 1,
            live_bytes: 0,
            fill: false,
        }
    }

    /// The number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the table has no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether slot `i` holds a block.
    pub fn is_live(&self, i: usize) -> bool {
        !self.slots[i].ptr.is_null()
    }

    /// Allocates `size` bytes into the empty slot `i`; false if the
    /// allocator returned null (only the fixed-arena workload expects that).
    pub fn try_alloc(&mut self, i: usize, size: usize) -> bool {
        debug_assert!(!self.is_live(i));
        let layout = Layout::from_size_align(size, ALIGN).expect("valid layout");
        // SAFETY: the layout has a non-zero size (workloads ask >= 16 bytes).
        let ptr = unsafe { self.alloc.alloc(layout) };
        if ptr.is_null() {
            return false;
        }
        stamp::check_fresh(ptr, layout, self.what);
        let tag = stamp::tag(self.next_id);
        self.next_id += 1;
        if self.fill {
            // SAFETY: the allocator gave `size` writable bytes.
            unsafe { ptr.write_bytes(0x5a, size) };
        }
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
        assert!(
            self.try_alloc(i, size),
            "{}: allocation of {size} bytes failed",
            self.what
        );
    }

    /// Verifies and frees the block in slot `i`, if any.
    pub fn free(&mut self, i: usize) {
        let slot = self.slots[i];
        if slot.ptr.is_null() {
            return;
        }
        // SAFETY: the block is live with `slot.size` bytes, stamped by us.
        unsafe { stamp::check(slot.ptr, slot.size, slot.tag, self.what) };
        let layout = Layout::from_size_align(slot.size, ALIGN).expect("valid layout");
        // SAFETY: the block came from this allocator with this layout.
        unsafe { self.alloc.dealloc(slot.ptr, layout) };
        self.slots[i] = EMPTY;
        self.live_bytes -= slot.size;
    }

    /// Resizes the live block in slot `i` to `size` bytes, checking that
    /// the contents it had survived.
    pub fn realloc(&mut self, i: usize, size: usize) {
        let slot = self.slots[i];
        debug_assert!(!slot.ptr.is_null());
        // SAFETY: the block is live with `slot.size` bytes, stamped by us.
        unsafe { stamp::check(slot.ptr, slot.size, slot.tag, self.what) };
        let layout = Layout::from_size_align(slot.size, ALIGN).expect("valid layout");
        // SAFETY: the block came from this allocator with this layout, and
        // the new size is non-zero and does not overflow.
        let ptr = unsafe { self.alloc.realloc(slot.ptr, layout, size) };
        stamp::check_fresh(
            ptr,
            Layout::from_size_align(size, ALIGN).unwrap(),
            self.what,
        );
        if size >= slot.size {
            // SAFETY: the old contents (both words) lie within the new block.
            unsafe { stamp::check(ptr, slot.size, slot.tag, self.what) };
        } else {
            // SAFETY: the new block has at least 8 bytes.
            unsafe { stamp::check_head(ptr, slot.tag, self.what) };
        }
        // SAFETY: the new block has `size` (>= 8) writable bytes.
        unsafe { stamp::write(ptr, size, slot.tag) };
        self.live_bytes = self.live_bytes - slot.size + size;
        self.slots[i] = Slot {
            ptr,
            size,
            tag: slot.tag,
        };
    }

    /// Frees every live block.
    pub fn clear(&mut self) {
        for i in 0..self.slots.len() {
            self.free(i);
        }
    }

    /// Frees every live block until `deadline`, then leaks the rest (still
    /// verified) and returns false. Allocators whose free walks a list
    /// (buddy merging, sorted free lists) take minutes to free 100k blocks;
    /// leaking them into their own region is the lesser harm, and the
    /// workloads that can leak run last.
    pub fn clear_until(&mut self, deadline: std::time::Instant) -> bool {
        for i in 0..self.slots.len() {
            if i % 256 == 0 && std::time::Instant::now() > deadline {
                for j in i..self.slots.len() {
                    let slot = self.slots[j];
                    if !slot.ptr.is_null() {
                        // SAFETY: the block is live with `slot.size` bytes.
                        unsafe { stamp::check(slot.ptr, slot.size, slot.tag, self.what) };
                    }
                    self.slots[j] = EMPTY;
                }
                return false;
            }
            self.free(i);
        }
        true
    }
}

impl Drop for Table<'_> {
    fn drop(&mut self) {
        // A verification failure is unwinding: checking the other blocks
        // again would panic inside the panic; leave them to the process.
        if std::thread::panicking() {
            return;
        }
        self.clear();
    }
}
