//! The process heap (`GetProcessHeap`) as a `GlobalAlloc`, through
//! `HeapAlloc`, `HeapFree` and `HeapReAlloc`: the Windows system allocator
//! that a C program's `malloc` and Rust's `System` also end up in, here
//! without their wrappers.
//!
//! The heap aligns every block to `MEMORY_ALLOCATION_ALIGNMENT` (16 bytes
//! on 64-bit Windows). Layouts up to that alignment, which is every layout
//! the workloads ask for, go straight to the heap. Larger alignments are
//! handled too, so the wrapper is a correct `GlobalAlloc` for any layout:
//! the block is over-allocated by the alignment, and the heap's own
//! address is kept in the word just below the aligned block for `HeapFree`.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Memory::{GetProcessHeap, HeapAlloc, HeapFree, HeapReAlloc};

/// The alignment of every heap block (`MEMORY_ALLOCATION_ALIGNMENT`).
const HEAP_ALIGN: usize = 2 * size_of::<usize>();

/// The process heap. Calls pass no flags: the heap serialises them itself
/// (no `HEAP_NO_SERIALIZE`) and reports failure as null (no
/// `HEAP_GENERATE_EXCEPTIONS`), as `GlobalAlloc` wants.
pub struct ProcessHeap {
    heap: HANDLE,
}

// SAFETY: the handle is a fixed value valid for the life of the process,
// and the heap functions called without HEAP_NO_SERIALIZE lock the heap,
// so any thread may use it.
unsafe impl Sync for ProcessHeap {}

impl ProcessHeap {
    /// The process's default heap.
    ///
    /// # Panics
    ///
    /// If the system has no process heap to give (it always has one).
    pub fn new() -> ProcessHeap {
        // SAFETY: takes nothing; returns the process heap's handle.
        let heap = unsafe { GetProcessHeap() };
        assert!(!heap.is_null(), "GetProcessHeap returned no heap");
        ProcessHeap { heap }
    }

    /// A block for an alignment above [`HEAP_ALIGN`]: `size + align` bytes
    /// from the heap, the aligned block at the first multiple of `align`
    /// above the heap's address, and that address in the word below it.
    /// The heap's address is a multiple of `HEAP_ALIGN` (at least a word),
    /// so that multiple lies between one word and `align` bytes above it:
    /// the stored word and the block both fit.
    fn alloc_over_aligned(&self, layout: Layout) -> *mut u8 {
        let Some(total) = layout.size().checked_add(layout.align()) else {
            return ptr::null_mut();
        };
        // SAFETY: a valid heap handle and no flags.
        let raw: *mut u8 = unsafe { HeapAlloc(self.heap, 0, total) }.cast();
        if raw.is_null() {
            return raw;
        }
        let offset = layout.align() - (raw as usize & (layout.align() - 1));
        // SAFETY: `offset` is between one word and `align` (above), so the
        // block and the word below it lie within the `total` bytes; an
        // unaligned write, though the word is in fact aligned.
        unsafe {
            let block = raw.add(offset);
            block.cast::<*mut u8>().sub(1).write_unaligned(raw);
            block
        }
    }

    /// The heap's address of a block that [`Self::alloc_over_aligned`]
    /// returned.
    ///
    /// # Safety
    ///
    /// `block` must come from `alloc_over_aligned` and not be freed yet.
    /// Otherwise the behavior is undefined.
    unsafe fn heap_address(block: *mut u8) -> *mut u8 {
        // SAFETY: alloc_over_aligned wrote this word (caller's contract).
        unsafe { block.cast::<*mut u8>().sub(1).read_unaligned() }
    }

    /// Gives a heap block back.
    ///
    /// # Panics
    ///
    /// If the heap refuses it: the wrapper passed a wrong address.
    fn free(&self, raw: *mut u8) {
        // SAFETY: a valid heap handle; HeapFree checks the address itself
        // and reports a block not of this heap as failure.
        let freed = unsafe { HeapFree(self.heap, 0, raw.cast()) };
        assert!(freed != 0, "HeapFree refused {raw:p}");
    }
}

// SAFETY: blocks come from the process heap, which hands out distinct live
// blocks of at least the size asked, aligned to HEAP_ALIGN, valid until
// freed; larger alignments are served from a larger block (see
// `alloc_over_aligned`). Failure is null, as GlobalAlloc wants.
unsafe impl GlobalAlloc for ProcessHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= HEAP_ALIGN {
            // SAFETY: a valid heap handle and no flags.
            unsafe { HeapAlloc(self.heap, 0, layout.size()) }.cast()
        } else {
            self.alloc_over_aligned(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.align() <= HEAP_ALIGN {
            self.free(ptr);
        } else {
            // SAFETY: a live block that `alloc` (or `realloc`) served with
            // this layout, so from alloc_over_aligned (caller's contract).
            self.free(unsafe { Self::heap_address(ptr) });
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= HEAP_ALIGN {
            // SAFETY: a live block of this heap (caller's contract); on
            // failure HeapReAlloc returns null and leaves it as it was.
            return unsafe { HeapReAlloc(self.heap, 0, ptr.cast(), new_size) }.cast();
        }
        // HeapReAlloc would move the block to the heap's alignment only:
        // an over-aligned block moves through a fresh one instead.
        // SAFETY: the new size is non-zero and forms a valid layout with the
        // old alignment (caller's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = self.alloc_over_aligned(new_layout);
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct, each holds at least
            // the smaller size; the old one is the caller's to give up.
            unsafe {
                ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}
