//! Controlling how much system memory the global heap holds: trimming and
//! the footprint limit.

use crate::DLMalloc;
use crate::raw;
use crate::stats::limit_from_raw;

impl DLMalloc {
    /// Gives unused memory back to the system: the free top of the heap
    /// beyond `pad` bytes, and segments that are wholly free. Returns `true`
    /// if anything was released.
    ///
    /// The heap trims itself when its free top grows past the trim
    /// threshold ([`raw::M_TRIM_THRESHOLD`]); call this after freeing a
    /// lot of memory that will not be needed again soon.
    ///
    /// ```
    /// use dlmalloc::DLMalloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// #[global_allocator]
    /// static GLOBAL: DLMalloc = DLMalloc;
    ///
    /// fn main() {
    ///     let blocks: Vec<Vec<u8>> = (0..100).map(|_| vec![1; 64 << 10]).collect();
    ///     drop(blocks);
    ///     GLOBAL.trim(0);
    ///     assert!(GLOBAL.stats().footprint < GLOBAL.stats().max_footprint);
    /// }
    /// ```
    pub fn trim(&self, pad: usize) -> bool {
        // SAFETY: trimming only releases free memory, under the heap lock.
        unsafe { raw::dlmalloc_trim(pad) != 0 }
    }

    /// The footprint limit in force: the most system memory the global heap
    /// may hold. `None` when there is no limit (the default).
    ///
    /// ```
    /// use dlmalloc::DLMalloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// assert_eq!(DLMalloc.footprint_limit(), None);
    /// ```
    pub fn footprint_limit(&self) -> Option<usize> {
        // SAFETY: reads one counter of the global heap.
        limit_from_raw(unsafe { raw::dlmalloc_footprint_limit() })
    }

    /// Limits the system memory the global heap may hold to `limit` bytes
    /// (rounded up to whole pages), or removes the limit with `None`.
    /// Returns the limit now in force.
    ///
    /// Once the limit is reached, allocations that would need more system
    /// memory fail (return null) instead of growing the heap; memory already
    /// held is kept. As in the C API, `Some(0)` also removes the limit.
    ///
    /// ```
    /// use core::alloc::{GlobalAlloc, Layout};
    /// use dlmalloc::DLMalloc;
    /// use dlmalloc_platform_std as _;
    ///
    /// let limit = DLMalloc.stats().footprint + (64 << 20);
    /// let in_force = DLMalloc.set_footprint_limit(Some(limit)).unwrap();
    /// assert!(in_force >= limit);
    ///
    /// // A request beyond the limit fails instead of growing the heap.
    /// let huge = Layout::from_size_align(128 << 20, 8).unwrap();
    /// // SAFETY: the layout has a non-zero size.
    /// assert!(unsafe { DLMalloc.alloc(huge) }.is_null());
    ///
    /// assert_eq!(DLMalloc.set_footprint_limit(None), None);
    /// ```
    pub fn set_footprint_limit(&self, limit: Option<usize>) -> Option<usize> {
        let raw_limit = limit.unwrap_or(usize::MAX);
        // SAFETY: sets one parameter of the global heap, under its lock.
        limit_from_raw(unsafe { raw::dlmalloc_set_footprint_limit(raw_limit) })
    }
}
