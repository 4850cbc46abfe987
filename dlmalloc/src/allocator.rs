//! The `Allocator` trait for `&Mspace`: `allocator-api2`'s on stable Rust,
//! and `core::alloc::Allocator` as well under the `nightly` feature. Both
//! impls are one macro over the same functions.

use core::alloc::Layout;
use core::ptr::{self, NonNull};

use crate::heap::RawHeap;

/// The block of a zero-size layout: no memory, only a well-aligned address,
/// never passed to the heap.
fn dangling(layout: Layout) -> NonNull<[u8]> {
    let address = ptr::without_provenance_mut::<u8>(layout.align());
    // SAFETY: an alignment is never zero.
    let address = unsafe { NonNull::new_unchecked(address) };
    NonNull::slice_from_raw_parts(address, 0)
}

/// `allocate` / `allocate_zeroed`.
#[inline]
fn allocate<H: RawHeap>(heap: H, layout: Layout, zeroed: bool) -> Option<NonNull<[u8]>> {
    if layout.size() == 0 {
        return Some(dangling(layout));
    }
    let block = if zeroed {
        heap.alloc_zeroed(layout)
    } else {
        heap.alloc(layout)
    };
    NonNull::new(block).map(|block| NonNull::slice_from_raw_parts(block, layout.size()))
}

/// `deallocate`.
///
/// # Safety
///
/// The `Allocator::deallocate` contract for a block of `heap`; otherwise the
/// behavior is undefined.
#[inline]
unsafe fn deallocate<H: RawHeap>(heap: H, ptr: NonNull<u8>, layout: Layout) {
    if layout.size() != 0 {
        // SAFETY: a block of non-zero size came from the heap (the caller's
        // contract) and is not used again.
        unsafe { heap.dealloc(ptr.as_ptr()) }
    }
}

/// `grow` / `grow_zeroed`: in place when the chunk can extend (into free
/// space or top), else moved.
///
/// # Safety
///
/// The `Allocator::grow` contract for a block of `heap`; otherwise the
/// behavior is undefined.
#[inline]
unsafe fn grow<H: RawHeap>(
    heap: H,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
    zeroed: bool,
) -> Option<NonNull<[u8]>> {
    if old.size() == 0 {
        return allocate(heap, new, zeroed);
    }
    // SAFETY: `ptr` is a live block of `heap` of `old.size()` bytes, and
    // `new.size() >= old.size() > 0` (the caller's contract).
    let block = NonNull::new(unsafe { heap.resize(ptr.as_ptr(), old.size(), new) })?;
    if zeroed {
        // SAFETY: the block holds `new.size()` bytes; the bytes past the old
        // size are the new ones.
        unsafe {
            block
                .add(old.size())
                .write_bytes(0, new.size() - old.size())
        };
    }
    Some(NonNull::slice_from_raw_parts(block, new.size()))
}

/// `shrink`: in place whenever the alignment allows.
///
/// # Safety
///
/// The `Allocator::shrink` contract for a block of `heap`; otherwise the
/// behavior is undefined.
#[inline]
unsafe fn shrink<H: RawHeap>(
    heap: H,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Option<NonNull<[u8]>> {
    if new.size() == 0 {
        // SAFETY: `ptr` fits `old` (the caller's contract) and the caller
        // uses only the returned dangling block from now on.
        unsafe { deallocate(heap, ptr, old) };
        return Some(dangling(new));
    }
    // SAFETY: `new.size() <= old.size()` so `old.size()` is non-zero too:
    // `ptr` is a live block of `heap` of `old.size()` bytes (the caller's
    // contract).
    let block = NonNull::new(unsafe { heap.resize(ptr.as_ptr(), old.size(), new) })?;
    Some(NonNull::slice_from_raw_parts(block, new.size()))
}

/// Implements an `Allocator` trait (`$trait`, with its `$error` type) for
/// `&Mspace<L>` over the functions above.
macro_rules! impl_allocator {
    ($trait:path, $error:path) => {
        // SAFETY: a block stays valid until it is deallocated or the heap is
        // dropped, which the borrow in `&Mspace` prevents while an
        // allocator value exists (copies of `&Mspace` are the same heap).
        // Blocks are aligned as the layout asks (memalign above the default
        // alignment; `resize` keeps the new layout's alignment), at least
        // as large as it, and never overlap; zero-size layouts get a
        // dangling, aligned, empty block that `deallocate` ignores. An
        // unlocked heap is !Sync, so `&Mspace<Unlocked>` stays on one
        // thread; a locked one takes its lock.
        unsafe impl<L: crate::Locking> $trait for &crate::Mspace<L> {
            #[inline]
            fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, $error> {
                allocate(self.handle(), layout, false).ok_or($error)
            }

            #[inline]
            fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, $error> {
                allocate(self.handle(), layout, true).ok_or($error)
            }

            #[inline]
            unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
                // SAFETY: the caller upholds deallocate's contract.
                unsafe { deallocate(self.handle(), ptr, layout) }
            }

            #[inline]
            unsafe fn grow(
                &self,
                ptr: NonNull<u8>,
                old_layout: Layout,
                new_layout: Layout,
            ) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: the caller upholds grow's contract.
                unsafe { grow(self.handle(), ptr, old_layout, new_layout, false) }.ok_or($error)
            }

            #[inline]
            unsafe fn grow_zeroed(
                &self,
                ptr: NonNull<u8>,
                old_layout: Layout,
                new_layout: Layout,
            ) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: the caller upholds grow_zeroed's contract, which is
                // grow's.
                unsafe { grow(self.handle(), ptr, old_layout, new_layout, true) }.ok_or($error)
            }

            #[inline]
            unsafe fn shrink(
                &self,
                ptr: NonNull<u8>,
                old_layout: Layout,
                new_layout: Layout,
            ) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: the caller upholds shrink's contract.
                unsafe { shrink(self.handle(), ptr, old_layout, new_layout) }.ok_or($error)
            }
        }
    };
}

impl_allocator!(
    allocator_api2::alloc::Allocator,
    allocator_api2::alloc::AllocError
);

#[cfg(feature = "nightly")]
impl_allocator!(core::alloc::Allocator, core::alloc::AllocError);
