//! Statistics over the Windows platform: with only the global heap, its
//! footprint is exactly what the platform has committed for it; freeing a
//! large block (a mapping of its own) and trimming give memory back to the
//! system, and the released address space is free again. The checks of live
//! blocks every platform makes come from
//! `testing/platform-behaviour/stats.rs`.

use std::alloc::{GlobalAlloc, Layout};

mod common;

#[path = "../../testing/platform-behaviour/stats.rs"]
mod shared;

use common::query;
use dlmalloc::DLMalloc;
use dlmalloc_platform_windows::{mapped_bytes, memory_stats};
use windows_sys::Win32::System::Memory::MEM_FREE;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// One test: the figures are process-wide, so no other test thread may
/// allocate meanwhile.
#[test]
fn statistics_follow_the_platform() {
    footprint_is_what_the_platform_committed();
    a_freed_large_block_goes_back_to_the_system();
}

#[track_caller]
fn check_accounting() {
    assert_eq!(GLOBAL.stats().footprint, mapped_bytes());
    GLOBAL.heap_check().unwrap();
}

fn footprint_is_what_the_platform_committed() {
    check_accounting();
    let blocks = shared::LiveBlocks::allocate(3000, 64 * 1024);
    let (before, during) = (blocks.before, blocks.during);
    check_accounting();
    blocks.free();
    // The blocks are gone; the standard library may have made a small
    // allocation of its own meanwhile (lazily created thread state).
    let after = GLOBAL.stats().in_use_bytes;
    assert!(
        after <= before.in_use_bytes + 1024,
        "{after} {}",
        before.in_use_bytes
    );
    // Trimming gives the free top back (decommitting tails, releasing
    // whole reservations), and the accounting still agrees.
    GLOBAL.trim(0);
    assert!(GLOBAL.stats().footprint < during.footprint);
    check_accounting();
}

fn a_freed_large_block_goes_back_to_the_system() {
    let size = 4 << 20;
    let layout = Layout::from_size_align(size, 8).unwrap();
    let before = memory_stats();
    // SAFETY: non-zero size.
    let big = unsafe { GLOBAL.alloc(layout) };
    assert!(!big.is_null());
    // SAFETY: a live block of `size` bytes.
    unsafe { big.write_bytes(0x77, size) };
    let with_big = memory_stats();
    assert!(with_big.committed_bytes >= before.committed_bytes + size);
    assert_eq!(with_big.reservations, before.reservations + 1);
    assert!(GLOBAL.stats().mmapped_bytes >= size);
    check_accounting();
    // SAFETY: live, freed once.
    unsafe { GLOBAL.dealloc(big, layout) };
    let after = memory_stats();
    assert_eq!(after.committed_bytes, before.committed_bytes);
    assert_eq!(after.reservations, before.reservations);
    assert_eq!(query(big as usize).State, MEM_FREE);
    check_accounting();
}
