//! The core's own ways of giving memory back, over this platform: a large
//! block shrunk in place gives back the tail of its mapping (decommitted,
//! the reservation kept), and trimming a heap that grew by many adjacent
//! reservations (which the core joins into one segment) gives back runs
//! that span several of them in one `custom_munmap` (each released whole).
//! The core's footprint and the platform's committed bytes agree after
//! every step.
//!
//! One test, and no global allocator (the standard library uses the process
//! heap): the figures compared are process-wide.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API, used within their sizes.
#![allow(clippy::undocumented_unsafe_blocks)]

mod common;

use common::{check, fill, query};
use dlmalloc::raw::{
    dlfree, dlmalloc, dlmalloc_check, dlmalloc_footprint, dlmalloc_trim, dlrealloc,
};
use dlmalloc_platform_windows::{mapped_bytes, memory_stats};
use windows_sys::Win32::System::Memory::{MEM_COMMIT, MEM_FREE, MEM_RESERVE};

const MIB: usize = 1 << 20;

#[track_caller]
fn assert_agree() {
    assert_eq!(unsafe { dlmalloc_footprint() }, mapped_bytes());
    assert_eq!(unsafe { dlmalloc_check(None, core::ptr::null_mut()) }, 0);
}

#[test]
fn the_core_gives_back_tails_and_runs() {
    shrinking_a_large_block_decommits_its_tail();
    trimming_releases_runs_of_reservations();
}

fn shrinking_a_large_block_decommits_its_tail() {
    let before = memory_stats();
    let big = unsafe { dlmalloc(4 * MIB) }.cast::<u8>();
    assert!(!big.is_null());
    unsafe { fill(big, 4 * MIB, 1) };
    let base = query(big as usize).AllocationBase as usize;
    let with_big = memory_stats();
    assert_eq!(with_big.reservations, before.reservations + 1);
    assert_agree();

    let shrunk = unsafe { dlrealloc(big.cast(), MIB) }.cast::<u8>();
    assert_eq!(shrunk, big, "a large block shrinks in place");
    unsafe { check(shrunk, MIB, 1) };
    let after = memory_stats();
    assert!(
        with_big.committed_bytes - after.committed_bytes >= 3 * MIB - 64 * 1024,
        "{with_big:?} {after:?}"
    );
    assert_eq!(
        after.reservations, with_big.reservations,
        "the reservation stays"
    );
    let tail = query(big as usize + 2 * MIB);
    assert_eq!(tail.State, MEM_RESERVE);
    assert_eq!(tail.AllocationBase as usize, base);
    assert_eq!(query(big as usize).State, MEM_COMMIT);
    assert_agree();

    unsafe { dlfree(shrunk.cast()) };
    assert_eq!(query(base).State, MEM_FREE, "its last bytes release it");
    assert_eq!(memory_stats().reservations, before.reservations);
    assert_agree();
}

fn trimming_releases_runs_of_reservations() {
    let before = memory_stats();
    // 24 MiB in 32 KiB blocks: heap segments, grown 64 KiB at a time
    // (the granularity), mostly adjacent.
    let blocks: Vec<*mut u8> = (0..768)
        .map(|i| {
            let block = unsafe { dlmalloc(32 << 10) }.cast::<u8>();
            assert!(!block.is_null());
            unsafe { fill(block, 64, i) };
            block
        })
        .collect();
    let grown = memory_stats();
    assert!(grown.reservations > before.reservations + 100, "{grown:?}");
    assert_agree();
    for (i, &block) in blocks.iter().enumerate() {
        unsafe {
            check(block, 64, i);
            dlfree(block.cast());
        }
    }
    unsafe { dlmalloc_trim(0) };
    let trimmed = memory_stats();
    assert_agree();
    assert!(
        trimmed.committed_bytes < before.committed_bytes + MIB,
        "{before:?} {trimmed:?}"
    );
    let released = grown.reservations - trimmed.reservations;
    let calls = trimmed.unmaps - grown.unmaps;
    eprintln!("trim: {released} reservations released in {calls} custom_munmap calls");
    assert!(
        released > calls,
        "{released} reservations released in {calls} calls: none spanned several"
    );
}
