//! A `custom_munmap` the platform cannot honour returns -1 and changes
//! nothing: not the bookkeeping, not what the system reports, not the
//! contents. Refused: ranges it never mapped, ranges given back before,
//! ranges reaching past a mapping or into a hole, unaligned and empty
//! ranges.
//!
//! No global allocator here, so only these calls touch the platform.

mod common;

use core::ffi::c_void;
use core::ptr;

use common::query;
use dlmalloc_platform_windows::{MemoryStats, custom_mmap, custom_munmap, memory_stats};
use windows_sys::Win32::System::Memory::{
    MEM_COMMIT, MEM_RELEASE, MEM_RESERVE, PAGE_READWRITE, VirtualAlloc, VirtualFree,
};

const KIB: usize = 1024;

fn map(len: usize) -> usize {
    let mem = custom_mmap(len);
    assert_ne!(mem as usize, usize::MAX, "custom_mmap({len}) failed");
    mem as usize
}

fn unmap(at: usize, len: usize) -> i32 {
    // SAFETY: either memory this test mapped and no longer uses, or a range
    // the hook must refuse without touching it.
    unsafe { custom_munmap(at as *mut c_void, len) }
}

/// Asks for `[at, at + len)` back and expects a refusal that changed
/// nothing.
#[track_caller]
fn assert_refused(at: usize, len: usize, what: &str) {
    let before: MemoryStats = memory_stats();
    assert_eq!(
        unmap(at, len),
        -1,
        "{what}: custom_munmap({at:#x}, {len:#x})"
    );
    assert_eq!(memory_stats(), before, "{what}: the bookkeeping changed");
}

#[test]
fn refused_ranges_lose_nothing() {
    let len = 128 * KIB;
    let base = map(len);
    // SAFETY: 128 KiB committed at `base`.
    unsafe { (base as *mut u8).write_bytes(0xC3, len) };
    assert_eq!(unmap(base + 96 * KIB, 32 * KIB), 0); // a hole at the end

    // Memory the platform never mapped: the system's own reservation, a
    // stack address, a static, address 0.
    // SAFETY: a fresh reservation, released below.
    let foreign = unsafe {
        VirtualAlloc(
            ptr::null(),
            64 * KIB,
            MEM_RESERVE | MEM_COMMIT,
            PAGE_READWRITE,
        )
    } as usize;
    assert_ne!(foreign, 0);
    assert_refused(foreign, 64 * KIB, "a reservation made by someone else");
    assert_eq!(
        query(foreign).State,
        MEM_COMMIT,
        "someone else's memory was touched"
    );
    // SAFETY: the reservation made above, unused.
    unsafe { VirtualFree(foreign as *mut c_void, 0, MEM_RELEASE) };
    let local = [0u8; 64];
    assert_refused((local.as_ptr() as usize) & !0xFFF, 4096, "the stack");
    static STATIC: [u8; 8192] = [0; 8192];
    assert_refused((STATIC.as_ptr() as usize + 4095) & !0xFFF, 4096, "a static");
    assert_refused(0, 64 * KIB, "address 0");

    // Ranges that are not whole committed pages of this mapping.
    assert_refused(base + 96 * KIB, 32 * KIB, "the hole given back before");
    assert_refused(base + 64 * KIB, 64 * KIB, "a range reaching into the hole");
    assert_refused(base, len + 64 * KIB, "a range past the mapping's end");
    assert_refused(base + 100, 4096, "an unaligned start");
    assert_refused(base, 4096 + 100, "an unaligned length");
    assert_refused(base, 0, "an empty range");
    assert_refused(usize::MAX & !0xFFF, 8192, "a range that wraps around");

    // Everything still there and usable.
    let info = query(base);
    assert_eq!(info.State, MEM_COMMIT);
    assert_eq!(info.RegionSize, 96 * KIB);
    // SAFETY: the first 96 KiB are still committed.
    let kept = unsafe { std::slice::from_raw_parts(base as *const u8, 96 * KIB) };
    assert!(kept.iter().all(|&b| b == 0xC3));
    assert_eq!(unmap(base, 96 * KIB), 0);
    assert_refused(base, 96 * KIB, "a range given back twice");
}
