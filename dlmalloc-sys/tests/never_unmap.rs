//! The core built with `never-unmap` (what wasm32 builds): the platform's
//! `custom_munmap` is never called, and the pages a destroyed mspace gives
//! back are recycled (csrc/recycle.c) for the next heaps, so creating and
//! destroying heaps in a loop does not map more and more. Runs only with
//! the feature: `cargo test -p dlmalloc-sys --features never-unmap --test
//! never_unmap` (scripts/test.sh).
#![cfg(feature = "never-unmap")]
// Every unsafe block below is a call into the raw C API with handles and
// pointers this test got from the same API.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;
use dlmalloc_platform_std::{mapped_bytes, unmap_count};

use core::ffi::c_void;

use dlmalloc_sys::*;
use dlmalloc_test_support::{Rng, assert_mspace_ok, serial};

const KIB: usize = 1 << 10;

/// Fills a new heap with `ops` blocks of 16 B to 200 KiB (a third freed
/// again), checks it, and destroys it. Returns what the destroy gave back.
fn use_a_heap(rng: &mut Rng, ops: usize) -> usize {
    let msp = unsafe { create_mspace(0, 0) };
    assert!(!msp.is_null());
    let mut live: Vec<*mut c_void> = Vec::new();
    for _ in 0..ops {
        let size = if rng.chance(5) {
            rng.range(20 * KIB, 200 * KIB)
        } else {
            rng.range(16, 512)
        };
        let p = unsafe { mspace_malloc(msp, size) };
        assert!(!p.is_null(), "allocation of {size} bytes failed");
        unsafe { p.cast::<u8>().write_bytes(0xA5, size) };
        live.push(p);
        if rng.chance(33) {
            let p = live.swap_remove(rng.below(live.len()));
            unsafe { mspace_free(msp, p) };
        }
    }
    unsafe { assert_mspace_ok(msp, "before the destroy") };
    unsafe { destroy_mspace(msp) }
}

#[test]
fn destroyed_heaps_pages_serve_the_next_heaps() {
    let _serial = serial();
    let mut rng = Rng::new(0x2EC7_C1ED);
    let unmaps = unmap_count();
    let start = mapped_bytes();
    let first = use_a_heap(&mut rng, 3000);
    assert!(first > 0);
    let after_one = mapped_bytes();
    // The first heap's pages stay mapped (the platform never unmaps)...
    assert_eq!(after_one - start, first);
    for round in 0..20 {
        let given = use_a_heap(&mut rng, 3000);
        // ... and serve every later heap: random fills of the same size
        // need at most a little more.
        assert!(
            mapped_bytes() <= after_one + first / 2,
            "round {round}: mapped {} bytes, {} after the first heap (it gave back {first}, this one {given})",
            mapped_bytes(),
            after_one
        );
    }
    assert_eq!(unmap_count(), unmaps, "custom_munmap was called");
}
