//! The C entry points over the Windows platform give what they promise:
//! `dlcalloc` zeroes, `dlmemalign` / `dlposix_memalign` / `dlvalloc` /
//! `dlpvalloc` align, `dlmalloc_usable_size` covers the request,
//! `dlrealloc_in_place` never moves, `dlindependent_calloc` /
//! `dlindependent_comalloc` / `dlbulk_malloc` / `dlbulk_free` work on
//! arrays, `dlmallinfo` and `dlmalloc_inspect_all` agree with each other,
//! and `dlmalloc_check` finds nothing wrong.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null), used within their sizes; a SAFETY
// line on each would repeat that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use core::ffi::c_void;
use core::ptr::null_mut;

use dlmalloc::raw::*;
use dlmalloc_platform_windows::page_size;

mod common;

use common::{check, fill};

/// Whether `[ptr, ptr + len)` is all zero.
unsafe fn all_zero(ptr: *const u8, len: usize) -> bool {
    unsafe { std::slice::from_raw_parts(ptr, len) }
        .iter()
        .all(|&b| b == 0)
}

#[test]
fn calloc_zeroes_reused_memory() {
    unsafe {
        for size in [1, 100, 5000, 100_000, 400_000] {
            let dirty = dlmalloc(size).cast::<u8>();
            dirty.write_bytes(0xEE, size);
            dlfree(dirty.cast());
            let zeroed = dlcalloc(size, 1).cast::<u8>();
            assert!(!zeroed.is_null());
            assert!(all_zero(zeroed, size), "size {size}");
            dlfree(zeroed.cast());
        }
        assert!(
            dlcalloc(usize::MAX / 2, 3).is_null(),
            "count * size overflows"
        );
        assert_eq!(dlmalloc_check(None, null_mut()), 0);
    }
}

#[test]
fn aligned_entry_points_align() {
    let page = page_size();
    unsafe {
        for shift in 4..=16 {
            let align = 1usize << shift;
            let p = dlmemalign(align, 1000).cast::<u8>();
            assert_eq!(p as usize % align, 0);
            fill(p, 1000, shift);
            let mut q: *mut c_void = null_mut();
            assert_eq!(dlposix_memalign(&mut q, align, 3000), 0);
            assert_eq!(q as usize % align, 0);
            check(p, 1000, shift);
            dlfree(p.cast());
            dlfree(q);
        }
        let mut untouched: *mut c_void = 8 as *mut c_void;
        assert_eq!(dlposix_memalign(&mut untouched, 24, 100), EINVAL);
        assert_eq!(untouched as usize, 8, "written on failure");
        let v = dlvalloc(100);
        assert_eq!(v as usize % page, 0);
        let pv = dlpvalloc(page + 1);
        assert_eq!(pv as usize % page, 0);
        assert!(dlmalloc_usable_size(pv) >= 2 * page);
        dlfree(v);
        dlfree(pv);
        assert_eq!(dlmalloc_check(None, null_mut()), 0);
    }
}

#[test]
fn usable_size_and_realloc_in_place() {
    unsafe {
        for size in [0, 1, 24, 1000, 70_000, 300_000] {
            let p = dlmalloc(size);
            assert!(!p.is_null());
            let usable = dlmalloc_usable_size(p);
            assert!(usable >= size);
            // All of the usable size may be written.
            p.cast::<u8>().write_bytes(0x11, usable);
            let same = dlrealloc_in_place(p, usable);
            assert_eq!(same, p, "realloc_in_place within the usable size");
            let shrunk = dlrealloc_in_place(p, size / 2);
            assert_eq!(shrunk, p);
            dlfree(p);
        }
        assert_eq!(dlmalloc_usable_size(null_mut()), 0);
        dlfree(null_mut());
        assert_eq!(dlmalloc_check(None, null_mut()), 0);
    }
}

#[test]
fn array_entry_points() {
    unsafe {
        let mut slots = [null_mut::<c_void>(); 16];
        let got = dlindependent_calloc(16, 40, slots.as_mut_ptr());
        assert_eq!(got, slots.as_mut_ptr());
        for &slot in &slots {
            assert!(!slot.is_null());
            assert!(all_zero(slot.cast(), 40));
        }
        assert_eq!(dlbulk_free(slots.as_mut_ptr(), 16), 0);
        assert!(slots.iter().all(|slot| slot.is_null()));

        let sizes = [8usize, 100, 3000, 17];
        let array = dlindependent_comalloc(4, sizes.as_ptr(), null_mut());
        assert!(!array.is_null());
        for (i, &size) in sizes.iter().enumerate() {
            let block = *array.add(i);
            assert!(dlmalloc_usable_size(block) >= size);
            fill(block.cast(), size, i);
        }
        for (i, &size) in sizes.iter().enumerate() {
            check((*array.add(i)).cast(), size, i);
            dlfree(*array.add(i));
        }
        dlfree(array.cast());

        let mut bulk = [null_mut::<c_void>(); 32];
        assert_eq!(dlbulk_malloc(200, bulk.as_mut_ptr(), 32), 32);
        for (i, &block) in bulk.iter().enumerate() {
            fill(block.cast(), 200, i);
        }
        for (i, &block) in bulk.iter().enumerate() {
            check(block.cast(), 200, i);
        }
        assert_eq!(dlbulk_free(bulk.as_mut_ptr(), 32), 0);
        assert_eq!(dlmalloc_check(None, null_mut()), 0);
    }
}

/// `dlmalloc_inspect_all`'s callback: adds each chunk's used bytes.
unsafe extern "C" fn add_used(_: *mut c_void, _: *mut c_void, used: usize, total: *mut c_void) {
    // SAFETY: `total` is the `usize` the test passed.
    unsafe { *total.cast::<usize>() += used };
}

#[test]
fn mallinfo_and_inspect_all_agree() {
    // The figures are process-wide; this test holds a few blocks of its own
    // and checks only relations that other threads cannot break while the
    // heap lock is held for each call.
    unsafe {
        let blocks: Vec<*mut c_void> = (1..200).map(|i| dlmalloc(i * 37)).collect();
        let info = dlmallinfo();
        assert_eq!(info.smblks, 0);
        assert!(info.uordblks >= (1..200).map(|i| i * 37).sum::<usize>());
        assert!(info.usmblks >= info.arena + info.hblkhd);
        let mut used = 0usize;
        dlmalloc_inspect_all(Some(add_used), (&raw mut used).cast());
        assert!(used >= (1..200).map(|i| i * 37).sum::<usize>());
        for block in blocks {
            dlfree(block);
        }
        assert_eq!(dlmalloc_check(None, null_mut()), 0);
    }
}
