//! `custom_mmap`/`custom_munmap`: page-aligned writable memory, exact
//! accounting in `mapped_bytes`, and failures that are reported, not lost.

use std::ffi::c_void;

use dlmalloc_platform_std::{
    custom_mmap, custom_munmap, custom_page_size, map_count, mapped_bytes, unmap_count,
};
// The counters are process-wide: tests that compare them run one at a time (`serial`).
use dlmalloc_test_support::serial;

/// The failure value of `custom_mmap`: `(void*)-1`.
const MMAP_FAILED: *mut c_void = usize::MAX as *mut c_void;

/// Writes a distinct byte at the start and end of every page of the range,
/// then reads them all back.
///
/// # Safety
///
/// `mem` must be a live mapping of `len` writable bytes; anything else is
/// undefined behavior.
unsafe fn touch_every_page(mem: *mut c_void, len: usize) {
    let page = custom_page_size();
    let bytes = mem.cast::<u8>();
    for offset in (0..len).step_by(page) {
        let tag = (offset / page) as u8;
        // SAFETY: offset and offset + page - 1 are inside the mapping.
        unsafe {
            bytes.add(offset).write(tag);
            bytes.add(offset + page - 1).write(!tag);
        }
    }
    for offset in (0..len).step_by(page) {
        let tag = (offset / page) as u8;
        // SAFETY: as above; the bytes were just written.
        unsafe {
            assert_eq!(bytes.add(offset).read(), tag);
            assert_eq!(bytes.add(offset + page - 1).read(), !tag);
        }
    }
}

#[test]
fn mappings_are_page_aligned_writable_and_counted() {
    let _serial = serial();
    let page = custom_page_size();
    for pages in [1, 3, 64, 513] {
        let len = pages * page;
        let (bytes_before, maps_before, unmaps_before) =
            (mapped_bytes(), map_count(), unmap_count());

        let mem = custom_mmap(len);
        assert_ne!(mem, MMAP_FAILED, "mapping {len} bytes failed");
        assert!(!mem.is_null());
        assert_eq!(mem as usize % page, 0, "{mem:p} is not page aligned");
        assert_eq!(mapped_bytes(), bytes_before + len);
        assert_eq!(map_count(), maps_before + 1);
        // SAFETY: a fresh mapping of `len` bytes.
        unsafe { touch_every_page(mem, len) };

        // SAFETY: the whole mapping, no longer used.
        assert_eq!(unsafe { custom_munmap(mem, len) }, 0);
        assert_eq!(mapped_bytes(), bytes_before);
        assert_eq!(unmap_count(), unmaps_before + 1);
    }
}

#[test]
fn lengths_round_up_to_whole_pages() {
    let _serial = serial();
    let page = custom_page_size();
    let before = mapped_bytes();
    let mem = custom_mmap(1);
    assert_ne!(mem, MMAP_FAILED);
    assert_eq!(mapped_bytes(), before + page);
    // SAFETY: a fresh mapping of one page.
    unsafe { touch_every_page(mem, page) };
    // SAFETY: the whole mapping, no longer used; 1 rounds up to the page.
    assert_eq!(unsafe { custom_munmap(mem, 1) }, 0);
    assert_eq!(mapped_bytes(), before);
}

#[test]
fn a_tail_can_be_unmapped_before_the_head() {
    let _serial = serial();
    let page = custom_page_size();
    let before = mapped_bytes();
    let mem = custom_mmap(4 * page);
    assert_ne!(mem, MMAP_FAILED);

    // SAFETY: the last two pages of the mapping, no longer used.
    let rc = unsafe { custom_munmap(mem.cast::<u8>().add(2 * page).cast(), 2 * page) };
    assert_eq!(rc, 0);
    assert_eq!(mapped_bytes(), before + 2 * page);
    // SAFETY: the first two pages are still mapped.
    unsafe { touch_every_page(mem, 2 * page) };

    // SAFETY: the rest of the mapping, no longer used.
    assert_eq!(unsafe { custom_munmap(mem, 2 * page) }, 0);
    assert_eq!(mapped_bytes(), before);
}

#[test]
fn impossible_lengths_fail_with_minus_one_not_null() {
    let _serial = serial();
    let page = custom_page_size();
    let (bytes_before, maps_before) = (mapped_bytes(), map_count());

    // Page aligned but larger than any address space; then lengths whose
    // rounding to pages would overflow; then nothing at all.
    for len in [
        usize::MAX - (page - 1),
        usize::MAX,
        usize::MAX - page / 2,
        0,
    ] {
        assert_eq!(custom_mmap(len), MMAP_FAILED, "custom_mmap({len:#x})");
    }
    assert_eq!(mapped_bytes(), bytes_before);
    assert_eq!(map_count(), maps_before);

    // Handing the failure value back to munmap is refused, and nothing is
    // counted as released.
    // SAFETY: the kernel rejects this unaligned address without touching
    // any memory.
    let rc = unsafe { custom_munmap(MMAP_FAILED, usize::MAX - (page - 1)) };
    assert_eq!(rc, -1);
    assert_eq!(mapped_bytes(), bytes_before);
}

#[test]
fn a_refused_munmap_keeps_the_memory_and_the_count() {
    let _serial = serial();
    let page = custom_page_size();
    let before = mapped_bytes();
    let mem = custom_mmap(2 * page);
    assert_ne!(mem, MMAP_FAILED);
    let unmaps = unmap_count();

    // An address that is not page aligned is refused by the kernel.
    // SAFETY: the call fails without unmapping anything.
    let rc = unsafe { custom_munmap(mem.cast::<u8>().add(1).cast(), page) };
    assert_eq!(rc, -1);
    assert_eq!(mapped_bytes(), before + 2 * page);
    assert_eq!(unmap_count(), unmaps);
    // SAFETY: the mapping is intact.
    unsafe { touch_every_page(mem, 2 * page) };

    // SAFETY: the whole mapping, no longer used.
    assert_eq!(unsafe { custom_munmap(mem, 2 * page) }, 0);
    assert_eq!(mapped_bytes(), before);
}
