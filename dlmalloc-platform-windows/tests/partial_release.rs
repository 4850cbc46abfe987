//! `custom_munmap` gives back any page-aligned run of a mapping: a tail, a
//! piece in the middle, the head, the whole, page by page, and a run across
//! two adjacent mappings. Pieces are decommitted (the reservation stays);
//! the reservation is released with its last committed byte. What the
//! system reports (`VirtualQuery`) and the platform's bookkeeping are
//! checked after every step.
//!
//! No global allocator here: the standard library allocates from the
//! process heap, so only these direct calls touch the platform's table.

mod common;

use core::ffi::c_void;

use common::query;
use dlmalloc_platform_windows::{custom_mmap, custom_munmap, memory_stats, page_size};
use windows_sys::Win32::System::Memory::{MEM_COMMIT, MEM_FREE, MEM_RESERVE};

const KIB: usize = 1024;

/// The tests compare process-wide figures: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes the serial lock (also after another test panicked with it).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Maps `len` bytes through the hook; panics on failure.
fn map(len: usize) -> usize {
    let mem = custom_mmap(len);
    assert_ne!(mem as usize, usize::MAX, "custom_mmap({len}) failed");
    assert!(!mem.is_null());
    mem as usize
}

/// Gives `[at, at + len)` back through the hook and returns its result.
fn unmap(at: usize, len: usize) -> i32 {
    // SAFETY: the tests give back only memory they mapped and no longer use
    // (or ranges the hook must refuse without touching them).
    unsafe { custom_munmap(at as *mut c_void, len) }
}

/// Panics unless every page of `[at, at + len)` is in `state` and belongs
/// to the reservation at `base`.
#[track_caller]
fn assert_state(at: usize, len: usize, base: usize, state: u32) {
    let mut cursor = at;
    while cursor < at + len {
        let info = query(cursor);
        assert_eq!(info.State, state, "state of {cursor:#x}");
        assert_eq!(
            info.AllocationBase as usize, base,
            "reservation of {cursor:#x}"
        );
        cursor = info.BaseAddress as usize + info.RegionSize;
    }
}

#[test]
fn pieces_are_decommitted_and_the_last_one_releases() {
    let _serial = serial();
    let before = memory_stats();
    let len = 256 * KIB;
    let base = map(len);
    assert_eq!(
        base % (64 * KIB),
        0,
        "reservations start at the granularity"
    );
    assert_state(base, len, base, MEM_COMMIT);
    let stats = memory_stats();
    assert_eq!(stats.committed_bytes, before.committed_bytes + len);
    assert_eq!(stats.reservations, before.reservations + 1);
    assert_eq!(stats.reserved_bytes, before.reserved_bytes + len);
    // The memory is usable.
    // SAFETY: 256 KiB committed at `base`.
    unsafe { (base as *mut u8).write_bytes(0x5A, len) };

    // The tail.
    assert_eq!(unmap(base + 192 * KIB, 64 * KIB), 0);
    assert_state(base + 192 * KIB, 64 * KIB, base, MEM_RESERVE);
    assert_state(base, 192 * KIB, base, MEM_COMMIT);
    let stats = memory_stats();
    assert_eq!(stats.committed_bytes, before.committed_bytes + 192 * KIB);
    assert_eq!(stats.reserved_bytes, before.reserved_bytes + len);
    assert_eq!(stats.reservations, before.reservations + 1);

    // A piece in the middle.
    assert_eq!(unmap(base + 64 * KIB, 64 * KIB), 0);
    assert_state(base + 64 * KIB, 64 * KIB, base, MEM_RESERVE);
    assert_state(base, 64 * KIB, base, MEM_COMMIT);
    assert_state(base + 128 * KIB, 64 * KIB, base, MEM_COMMIT);
    assert_eq!(
        memory_stats().committed_bytes,
        before.committed_bytes + 128 * KIB
    );

    // The head; what is left keeps its contents.
    assert_eq!(unmap(base, 64 * KIB), 0);
    assert_state(base, 64 * KIB, base, MEM_RESERVE);
    // SAFETY: [base + 128 KiB, base + 192 KiB) is still committed.
    let kept = unsafe { std::slice::from_raw_parts((base + 128 * KIB) as *const u8, 64 * KIB) };
    assert!(kept.iter().all(|&b| b == 0x5A));
    assert_eq!(memory_stats().reservations, before.reservations + 1);

    // The last committed piece releases the reservation.
    assert_eq!(unmap(base + 128 * KIB, 64 * KIB), 0);
    assert_eq!(query(base).State, MEM_FREE);
    let after = memory_stats();
    assert_eq!(after.committed_bytes, before.committed_bytes);
    assert_eq!(after.reserved_bytes, before.reserved_bytes);
    assert_eq!(after.reservations, before.reservations);
    assert_eq!(after.maps, before.maps + 1);
    assert_eq!(after.unmaps, before.unmaps + 4);
}

#[test]
fn whole_mapping_at_once() {
    let _serial = serial();
    let before = memory_stats();
    let len = 5 * page_size();
    let base = map(len);
    assert_state(base, len, base, MEM_COMMIT);
    assert_eq!(unmap(base, len), 0);
    assert_eq!(query(base).State, MEM_FREE);
    let after = memory_stats();
    assert_eq!(after.committed_bytes, before.committed_bytes);
    assert_eq!(after.reservations, before.reservations);
}

#[test]
fn page_by_page_from_the_end() {
    let _serial = serial();
    let page = page_size();
    let len = 64 * KIB;
    let base = map(len);
    for n in (1..len / page).rev() {
        assert_eq!(unmap(base + n * page, page), 0, "page {n}");
        assert_state(base + n * page, page, base, MEM_RESERVE);
        assert_state(base, n * page, base, MEM_COMMIT);
    }
    assert_eq!(unmap(base, page), 0);
    assert_eq!(query(base).State, MEM_FREE);
}

/// Maps 64 KiB mappings until two are adjacent (the core joins such
/// mappings into one segment); returns the lower, the higher, and the
/// others to give back.
fn adjacent_pair(len: usize) -> (usize, usize, Vec<usize>) {
    let mut others: Vec<usize> = Vec::new();
    for _ in 0..256 {
        let fresh = map(len);
        if let Some(i) = others
            .iter()
            .position(|&o| o + len == fresh || fresh + len == o)
        {
            let other = others.swap_remove(i);
            return (other.min(fresh), other.max(fresh), others);
        }
        others.push(fresh);
    }
    panic!("256 mappings of {len} bytes, none adjacent to another");
}

#[test]
fn a_run_across_two_mappings() {
    let _serial = serial();
    let len = 64 * KIB;
    let (low, high, others) = adjacent_pair(len);
    for other in others {
        assert_eq!(unmap(other, len), 0);
    }
    let before = memory_stats();
    // The tail of the lower one and the head of the higher one.
    assert_eq!(unmap(low + 32 * KIB, len), 0);
    assert_state(low + 32 * KIB, 32 * KIB, low, MEM_RESERVE);
    assert_state(high, 32 * KIB, high, MEM_RESERVE);
    assert_state(low, 32 * KIB, low, MEM_COMMIT);
    assert_state(high + 32 * KIB, 32 * KIB, high, MEM_COMMIT);
    assert_eq!(memory_stats().committed_bytes, before.committed_bytes - len);
    // What is left of each (the lower's head, the higher's tail) is no
    // longer one run: one call each, and each releases its reservation.
    assert_eq!(unmap(low, 32 * KIB), 0);
    assert_eq!(query(low).State, MEM_FREE);
    assert_eq!(unmap(high + 32 * KIB, 32 * KIB), 0);
    assert_eq!(query(high).State, MEM_FREE);
    let after = memory_stats();
    assert_eq!(after.committed_bytes, before.committed_bytes - 2 * len);
    assert_eq!(after.reservations, before.reservations - 2);

    // A whole run of two mappings in one call releases both.
    let (low, high, others) = adjacent_pair(len);
    for other in others {
        assert_eq!(unmap(other, len), 0);
    }
    assert_eq!(unmap(low, 2 * len), 0);
    assert_eq!(query(low).State, MEM_FREE);
    assert_eq!(query(high).State, MEM_FREE);
}
