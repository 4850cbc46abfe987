//! Detected misuse of mspaces ends the process through `custom_abort`. Each
//! case runs in a child process (this test binary re-executed with
//! `DLM_MSPACE_MISUSE=<case>`); the parent asserts that the child died of
//! SIGABRT and that the platform's `dlmalloc: <msg> (<file>:<line>)` line
//! names the problem.
//!
//! - Any call with a handle that is no heap: null, misaligned, a zeroed
//!   buffer, or a caller-memory heap after destroy_mspace (its memory is
//!   still there, reused or not): "invalid mspace handle".
//! - A double free in an mspace: a message about `free`.
//! - With the `footers` feature only: a block freed into an mspace that did
//!   not allocate it ("does not own"), and a forged chunk ("forged or
//!   corrupted"). Without footers the core cannot tell heaps apart (a chunk
//!   records nothing about its owner): the tests pin down that documented
//!   undetected outcome (the wrong heap, or the forger, later gets the
//!   block back from malloc), so adding a check shows up here.

// Every unsafe block below is a call into the raw C API, on purpose with
// invalid handles or pointers: that is the misuse under test, and it only
// ever runs in a child process that is expected to abort.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

use core::ffi::c_void;
use core::ptr::null_mut;

use dlmalloc_sys::*;
use dlmalloc_test_support::{UNDETECTED, assert_aborted_with, run_child};

const CHILD_ENV: &str = "DLM_MSPACE_MISUSE";
const ENTRY: &str = "child_entry";
const INVALID_HANDLE: &str = "invalid mspace handle";

/// Zeroed memory the size of a page, aligned like a heap state: it is no
/// heap, but every field a handle check could read is there.
#[repr(C, align(64))]
struct Zeroed([u8; 4096]);

/// Room for a heap in static memory.
#[cfg(feature = "footers")]
static mut STATIC_REGION: Zeroed = Zeroed([0; 4096]);

/// A caller-memory heap, destroyed; its region stays alive (leaked) so the
/// stale handle points to readable memory.
fn destroyed_heap() -> (Mspace, &'static mut [u8]) {
    let region: &'static mut [u8] = vec![0u8; 256 << 10].leak();
    let msp = unsafe { create_mspace_with_base(region.as_mut_ptr().cast(), region.len(), 1) };
    assert!(!msp.is_null());
    let p = unsafe { mspace_malloc(msp, 100) };
    assert!(!p.is_null());
    assert_eq!(unsafe { destroy_mspace(msp) }, 0);
    (msp, region)
}

/// Two fresh heaps: (higher, lower), by the address of a block of each, so
/// a block of `higher` lies above every address `lower` owns and passes
/// the address check that would otherwise catch a foreign pointer first.
/// The returned block has an in-use block after it in its own heap.
fn two_heaps() -> (Mspace, *mut c_void, Mspace) {
    let a = unsafe { create_mspace(0, 1) };
    let b = unsafe { create_mspace(0, 0) };
    assert!(!a.is_null() && !b.is_null());
    let pa = unsafe { mspace_malloc(a, 64) };
    let pb = unsafe { mspace_malloc(b, 64) };
    let after_a = unsafe { mspace_malloc(a, 64) };
    let after_b = unsafe { mspace_malloc(b, 64) };
    assert!(!pa.is_null() && !pb.is_null() && !after_a.is_null() && !after_b.is_null());
    if pa > pb { (a, pa, b) } else { (b, pb, a) }
}

/// Performs one misuse. Returns only if the core failed to detect it.
///
/// A case named `fresh_<case>` runs `<case>` in a process where the core
/// has not been used yet; any other case first creates and destroys a
/// heap, so the core is initialised as in any program that has a valid
/// handle somewhere.
fn run_case(case: &str) {
    let case = match case.strip_prefix("fresh_") {
        Some(rest) => rest,
        None => {
            let warm = unsafe { create_mspace(0, 0) };
            assert!(!warm.is_null());
            unsafe { destroy_mspace(warm) };
            case
        }
    };
    let mut zeroed = Box::new(Zeroed([0; 4096]));
    let garbage: Mspace = zeroed.0.as_mut_ptr().cast();
    match case {
        "null_handle" => {
            let p = unsafe { mspace_malloc(null_mut(), 16) };
            eprintln!("mspace_malloc(NULL) returned {p:?}");
        }
        "misaligned_handle" => {
            let msp = zeroed.0.as_mut_ptr().wrapping_add(8).cast::<c_void>();
            let p = unsafe { mspace_malloc(msp, 16) };
            eprintln!("mspace_malloc(misaligned) returned {p:?}");
        }
        "garbage_malloc" => {
            let p = unsafe { mspace_malloc(garbage, 16) };
            eprintln!("mspace_malloc(garbage) returned {p:?}");
        }
        "garbage_free" => {
            let msp = unsafe { create_mspace(0, 0) };
            let p = unsafe { mspace_malloc(msp, 16) };
            assert!(!p.is_null());
            unsafe { mspace_free(garbage, p) };
        }
        "garbage_footprint" => {
            let n = unsafe { mspace_footprint(garbage) };
            eprintln!("mspace_footprint(garbage) returned {n}");
        }
        "garbage_mallinfo" => {
            let mi = unsafe { mspace_mallinfo(garbage) };
            eprintln!("mspace_mallinfo(garbage) returned {mi:?}");
        }
        "garbage_check" => {
            let n = unsafe { mspace_check(garbage, None, null_mut()) };
            eprintln!("mspace_check(garbage) returned {n}");
        }
        "garbage_destroy" => {
            let n = unsafe { destroy_mspace(garbage) };
            eprintln!("destroy_mspace(garbage) returned {n}");
        }
        "garbage_track" => {
            let n = unsafe { mspace_track_large_chunks(garbage, 1) };
            eprintln!("mspace_track_large_chunks(garbage) returned {n}");
        }
        "destroyed_malloc" => {
            let (msp, _region) = destroyed_heap();
            let p = unsafe { mspace_malloc(msp, 16) };
            eprintln!("mspace_malloc(destroyed) returned {p:?}");
        }
        "destroyed_reused" => {
            // The caller reuses the region for other data after destroy.
            let (msp, region) = destroyed_heap();
            for (i, b) in region.iter_mut().enumerate() {
                *b = (i * 7) as u8;
            }
            let p = unsafe { mspace_calloc(msp, 4, 4) };
            eprintln!("mspace_calloc(destroyed, reused) returned {p:?}");
        }
        "destroyed_twice" => {
            let (msp, _region) = destroyed_heap();
            let n = unsafe { destroy_mspace(msp) };
            eprintln!("the second destroy_mspace returned {n}");
        }
        "double_free" => {
            // Neighbours on both sides keep the freed chunk a separate free
            // chunk (not merged into top or into a free neighbour).
            let msp = unsafe { create_mspace(0, 1) };
            let before = unsafe { mspace_malloc(msp, 64) };
            let p = unsafe { mspace_malloc(msp, 64) };
            let after = unsafe { mspace_malloc(msp, 64) };
            assert!(!before.is_null() && !p.is_null() && !after.is_null());
            unsafe { mspace_free(msp, p) };
            unsafe { mspace_free(msp, p) };
        }
        "double_free_into_top" => {
            let msp = unsafe { create_mspace(0, 0) };
            let p = unsafe { mspace_malloc(msp, 64) };
            assert!(!p.is_null());
            unsafe { mspace_free(msp, p) };
            unsafe { mspace_free(msp, p) };
        }
        #[cfg(feature = "footers")]
        "foreign_free" => {
            let (_owner, p, other) = two_heaps();
            unsafe { mspace_free(other, p) };
        }
        #[cfg(feature = "footers")]
        "foreign_realloc" => {
            let (_owner, p, other) = two_heaps();
            let q = unsafe { mspace_realloc(other, p, 1000) };
            eprintln!("realloc into the wrong heap returned {q:?}");
        }
        #[cfg(feature = "footers")]
        "foreign_bulk_free" => {
            let (owner, p, other) = two_heaps();
            let mine = unsafe { mspace_malloc(other, 64) };
            let theirs = unsafe { mspace_malloc(owner, 64) };
            let mut array = [mine, p, theirs];
            unsafe { mspace_bulk_free(other, array.as_mut_ptr(), 3) };
        }
        #[cfg(feature = "footers")]
        "mspace_block_into_global" => {
            // The global heap has not allocated yet, so no address check
            // stands before the owner check.
            let msp = unsafe { create_mspace(0, 0) };
            let p = unsafe { mspace_malloc(msp, 64) };
            assert!(!p.is_null());
            unsafe { dlfree(p) };
        }
        #[cfg(feature = "footers")]
        "global_block_into_mspace" => {
            // A heap in static memory lies below every mapping, so the
            // global heap's block passes its address check.
            let base = (&raw mut STATIC_REGION).cast::<c_void>();
            let msp = unsafe { create_mspace_with_base(base, size_of::<Zeroed>(), 0) };
            let p = unsafe { dlmalloc(64) };
            assert!(!p.is_null() && !msp.is_null());
            assert!(p > base, "the global block lies below the static region");
            unsafe { mspace_free(msp, p) };
        }
        #[cfg(not(feature = "footers"))]
        "foreign_free_undetected" => {
            // The chunk (in use on both sides in its own heap) joins the
            // wrong heap's free lists; that heap hands it out again.
            let (_owner, p, other) = two_heaps();
            unsafe { mspace_free(other, p) };
            let q = unsafe { mspace_malloc(other, 64) };
            assert_eq!(q, p, "the wrong heap did not reuse the foreign block");
        }
        #[cfg(not(feature = "footers"))]
        "forged_chunk_undetected" => {
            let (msp, forged) = forge(0);
            // The forged chunk is 8 words: exactly a 7-word request.
            let q = unsafe { mspace_malloc(msp, 7 * size_of::<usize>()) };
            assert_eq!(q, forged, "the heap did not hand out the forged chunk");
        }
        #[cfg(feature = "footers")]
        "forged_chunk_odd_footer" => drop(forge(0x5A5A_0001)),
        #[cfg(feature = "footers")]
        "forged_chunk_zero_footer" => drop(forge(0)),
        #[cfg(feature = "footers")]
        "forged_chunk_garbage_footer" => drop(forge(0x1234_5678_9ABC_DEF0u64 as usize)),
        other => panic!("unknown misuse case {other}"),
    }
    drop(zeroed);
}

/// Writes a plausible in-use chunk into a calloc'd block of a heap and frees
/// it: aligned, above the heap's least address, marked in use, followed by a
/// chunk that sees it in use, but with `footer` where the owner tag goes.
/// Returns the heap and the forged block (if the free returns at all).
fn forge(footer: usize) -> (Mspace, *mut c_void) {
    const W: usize = size_of::<usize>();
    const PINUSE_CINUSE: usize = 3;
    let msp = unsafe { create_mspace(0, 0) };
    let buf = unsafe { mspace_calloc(msp, 1, 512) }.cast::<usize>();
    assert!(!buf.is_null());
    // The fake chunk starts 4 words in; its user pointer is 2 words later.
    let size = 8 * W;
    unsafe {
        let chunk = buf.add(4);
        chunk.add(1).write(size | PINUSE_CINUSE);
        let next = chunk.add(size / W);
        next.write(footer); // prev_foot of the next chunk: the owner tag
        next.add(1).write((4 * W) | PINUSE_CINUSE);
        let forged = chunk.add(2).cast::<c_void>();
        mspace_free(msp, forged);
        (msp, forged)
    }
}

/// The child's entry point: does nothing in a normal test run.
#[test]
fn child_entry() {
    dlmalloc_test_support::child_entry(CHILD_ENV, run_case);
}

/// Runs `case` in a child and asserts it aborted with a message containing
/// `needle`.
fn expect_abort(case: &str, needle: &str) {
    let out = run_child(ENTRY, CHILD_ENV, case);
    assert_aborted_with(case, &out, needle);
}

#[test]
fn a_null_handle_aborts() {
    expect_abort("null_handle", INVALID_HANDLE);
}

#[test]
fn a_misaligned_handle_aborts() {
    expect_abort("misaligned_handle", INVALID_HANDLE);
}

/// A zeroed 4 KiB buffer passed as a handle, to several entry points.
const GARBAGE_CASES: [&str; 7] = [
    "garbage_malloc",
    "garbage_free",
    "garbage_footprint",
    "garbage_mallinfo",
    "garbage_check",
    "garbage_destroy",
    "garbage_track",
];

#[test]
fn a_garbage_handle_aborts_in_every_entry_point() {
    for case in GARBAGE_CASES {
        expect_abort(case, INVALID_HANDLE);
    }
}

/// The same before anything has initialised the core.
#[test]
fn a_garbage_handle_aborts_before_any_heap_exists() {
    for case in GARBAGE_CASES {
        expect_abort(&format!("fresh_{case}"), INVALID_HANDLE);
    }
}

#[test]
fn a_destroyed_handle_aborts() {
    for case in ["destroyed_malloc", "destroyed_reused", "destroyed_twice"] {
        expect_abort(case, INVALID_HANDLE);
    }
}

#[test]
fn a_double_free_in_an_mspace_aborts() {
    for case in ["double_free", "double_free_into_top"] {
        expect_abort(case, "free");
    }
}

#[cfg(feature = "footers")]
#[test]
fn a_block_freed_into_another_heap_aborts() {
    for case in [
        "foreign_free",
        "foreign_realloc",
        "foreign_bulk_free",
        "mspace_block_into_global",
        "global_block_into_mspace",
    ] {
        expect_abort(case, "does not own");
    }
}

/// A forged chunk whose footer, decoded, is not even an aligned address.
#[cfg(feature = "footers")]
#[test]
fn a_forged_chunk_aborts() {
    expect_abort("forged_chunk_odd_footer", "forged or corrupted");
}

/// A forged chunk whose footer is zero (the calloc'd buffer's own bytes) or
/// an aligned garbage word: what a forger who does not know the magic
/// writes.
#[cfg(feature = "footers")]
#[test]
fn a_forged_chunk_with_an_aligned_footer_aborts() {
    for case in ["forged_chunk_zero_footer", "forged_chunk_garbage_footer"] {
        expect_abort(case, "forged or corrupted");
    }
}

/// Runs `case` in a child and asserts that it returned normally: the
/// documented undetected outcome of the default build.
#[cfg(not(feature = "footers"))]
fn expect_undetected(case: &str) {
    let out = run_child(ENTRY, CHILD_ENV, case);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains(UNDETECTED),
        "case {case}: expected the documented undetected outcome, got {:?}\nstderr:\n{stderr}",
        out.status
    );
}

/// Without footers a chunk records nothing about its owner: a block freed
/// into another heap is taken in, and that heap hands it out again.
#[cfg(not(feature = "footers"))]
#[test]
fn without_footers_a_block_freed_into_another_heap_is_not_detected() {
    expect_undetected("foreign_free_undetected");
}

/// Without footers a forged chunk with consistent headers is taken in, and
/// the next request of its size returns the forged address.
#[cfg(not(feature = "footers"))]
#[test]
fn without_footers_a_forged_chunk_is_not_detected() {
    expect_undetected("forged_chunk_undetected");
}
