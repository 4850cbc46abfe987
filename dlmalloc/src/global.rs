//! The global heap of the C core as a Rust [`GlobalAlloc`].

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;

use crate::raw;

/// The C core's global heap as a Rust allocator.
///
/// A unit struct: the heap's state lives in the C core, so every `DLMalloc`
/// value names the same heap. Declare it as the global allocator in one line,
/// next to the line that links a platform crate (the hooks that give the
/// core its pages, locks and abort):
///
/// ```
/// use dlmalloc::DLMalloc;
/// use dlmalloc_platform_std as _;
///
/// #[global_allocator]
/// static GLOBAL: DLMalloc = DLMalloc;
///
/// fn main() {
///     let squares: Vec<u64> = (0..1000).map(|i| i * i).collect();
///     assert_eq!(squares[999], 998_001);
///     assert!(GLOBAL.stats().footprint > 0);
/// }
/// ```
///
/// It can also be called directly, without being the global allocator:
///
/// ```
/// use core::alloc::{GlobalAlloc, Layout};
/// use dlmalloc::DLMalloc;
/// use dlmalloc_platform_std as _;
///
/// let layout = Layout::from_size_align(1000, 4096).unwrap();
/// // SAFETY: the layout has a non-zero size.
/// let block = unsafe { DLMalloc.alloc(layout) };
/// assert!(!block.is_null());
/// assert_eq!(block as usize % 4096, 0);
/// // SAFETY: `block` came from `DLMalloc.alloc` with this layout.
/// unsafe { DLMalloc.dealloc(block, layout) };
/// ```
///
/// Blocks whose alignment is at most [`raw::MALLOC_ALIGNMENT`] (two pointer
/// sizes) come from plain `dlmalloc`; larger alignments use `dlmemalign`.
/// `realloc` keeps the layout's alignment and, when it has to move a block,
/// copies exactly the smaller of the old and new sizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DLMalloc;

/// Whether the core's plain `dlmalloc` already returns blocks aligned to
/// `align`.
#[inline]
fn malloc_aligns(align: usize) -> bool {
    align <= raw::MALLOC_ALIGNMENT
}

// SAFETY: the core returns blocks of at least the requested size, aligned to
// MALLOC_ALIGNMENT (dlmalloc, dlcalloc, dlrealloc) or to the requested power of
// two (dlmemalign), or null; a block stays valid until it is freed, blocks do
// not overlap, and the core's lock hooks make it safe to call from any thread.
unsafe impl GlobalAlloc for DLMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = if malloc_aligns(layout.align()) {
            // SAFETY: dlmalloc accepts any size and returns null on failure.
            unsafe { raw::dlmalloc(layout.size()) }
        } else {
            // SAFETY: the alignment of a Layout is a power of two, which
            // dlmemalign accepts; it returns null on failure.
            unsafe { raw::dlmemalign(layout.align(), layout.size()) }
        };
        block.cast()
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if malloc_aligns(layout.align()) {
            // SAFETY: dlcalloc accepts any sizes and returns zeroed memory or
            // null.
            return unsafe { raw::dlcalloc(1, layout.size()) }.cast();
        }
        // SAFETY: the caller's contract for alloc_zeroed is that of alloc.
        let block = unsafe { self.alloc(layout) };
        if !block.is_null() {
            // SAFETY: `block` is a fresh allocation of `layout.size()` bytes.
            unsafe { ptr::write_bytes(block, 0, layout.size()) };
        }
        block
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller guarantees `ptr` was allocated by this allocator,
        // so by the core's global heap, and is not used again.
        unsafe { raw::dlfree(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if malloc_aligns(layout.align()) {
            // SAFETY: `ptr` is a live block of the global heap (caller's
            // contract) and every block dlrealloc returns is aligned to
            // MALLOC_ALIGNMENT >= layout.align(). On failure it returns null
            // and leaves the old block untouched, as GlobalAlloc requires.
            return unsafe { raw::dlrealloc(ptr.cast(), new_size) }.cast();
        }
        // An over-aligned block: dlrealloc could move it to a block with only
        // the default alignment, so resize in place or move it ourselves.
        // SAFETY: `ptr` is a live block of the global heap; dlrealloc_in_place
        // never moves it and returns null when it cannot resize it.
        let resized = unsafe { raw::dlrealloc_in_place(ptr.cast(), new_size) };
        if !resized.is_null() {
            return ptr;
        }
        // SAFETY: the caller guarantees that `new_size`, rounded up to
        // `layout.align()`, does not overflow isize, and the alignment comes
        // from a valid Layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_size` is non-zero (caller's contract).
        let new_block = unsafe { self.alloc(new_layout) };
        if !new_block.is_null() {
            // SAFETY: both blocks are live, distinct, and at least
            // min(old, new) bytes long; the old one is freed exactly once and
            // the caller no longer uses it after a successful realloc.
            unsafe {
                ptr::copy_nonoverlapping(ptr, new_block, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new_block
    }
}
