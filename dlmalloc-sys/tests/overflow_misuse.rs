//! A write past the end of a block that overwrites the next chunk's header
//! (and, with `footers`, the owner word in front of it), followed by a free
//! of the block, of the clobbered neighbour, or of the block next to an
//! already free neighbour. Each case runs in a child process (this test
//! binary re-executed with `DLM_OVERFLOW_CHILD=<case>`).
//!
//! What the core sees depends on the bytes written, so each case names its
//! fill: zeros (a string's terminator, a zeroing loop one step too far),
//! ASCII text ('A') and all ones (0xFF). Three blocks of one size are taken
//! from a fresh heap, so they are neighbours in address order and the
//! outcome is fixed; both a small-bin size (24 bytes) and a large-bin size
//! (2000 bytes) run.
//!
//! The tests assert the exact abort message where the core detects the
//! overflow, and "returns normally" for the documented undetected cases of
//! the default build (the README's "Safety and hardening" table).

// Every unsafe block below is a call into the raw C API or a write past a
// block's end, on purpose: that is the misuse under test, and it only ever
// runs in a child process.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

use dlmalloc_sys::*;

const CHILD_ENV: &str = "DLM_OVERFLOW_CHILD";
const ENTRY: &str = "child_entry";

/// The core's messages, without the ` (<file>:<line>)` suffix.
const NEXT_NOT_SEEING_IN_USE: &str =
    "free(): corrupted chunk (the next chunk does not see it in use: overflow or double free)";
const NOT_IN_USE: &str = "free(): double free or invalid pointer (the chunk is not in use)";
#[cfg(not(feature = "footers"))]
const BAD_MAPPING_HEADER: &str = "corrupted large chunk: its mapping header does not match";
#[cfg(not(feature = "footers"))]
const BAD_NEXT_SIZE: &str =
    "free(): corrupted chunk (the next chunk's size or boundary tag is wrong: overflow?)";
#[cfg(feature = "footers")]
const BAD_FOOTER: &str = "forged or corrupted chunk: its owner footer is not valid";

/// Which block is freed after the overflow.
#[derive(Clone, Copy)]
enum Freed {
    /// The block written past its end.
    Block,
    /// The neighbour whose header was overwritten.
    Neighbour,
    /// The neighbour was free before the overflow; then the block is freed
    /// and the core coalesces it with that neighbour.
    BlockNextToFree,
}

/// Performs one case, `<fill>_<freed>_<size>` with fill `zeros`, `text` or
/// `ones`. Returns only if the core let it through.
fn run_case(case: &str) {
    let mut parts = case.split('_');
    let fill = match parts.next() {
        Some("zeros") => 0x00,
        Some("text") => b'A',
        Some("ones") => 0xFF,
        _ => panic!("unknown fill in case {case}"),
    };
    let freed = match parts.next() {
        Some("block") => Freed::Block,
        Some("neighbour") => Freed::Neighbour,
        Some("nextfree") => Freed::BlockNextToFree,
        _ => panic!("unknown free in case {case}"),
    };
    let size: usize = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no size in case {case}"));

    let block = unsafe { dlmalloc(size) }.cast::<u8>();
    let neighbour = unsafe { dlmalloc(size) }.cast::<u8>();
    // Keeps the neighbour away from top, so a free neighbour stays a binned
    // chunk.
    let guard = unsafe { dlmalloc(size) }.cast::<u8>();
    assert!(!block.is_null() && !neighbour.is_null() && !guard.is_null());
    let usable = unsafe { dlmalloc_usable_size(block.cast()) };
    let end = block as usize + usable;
    assert!(
        neighbour as usize > end && neighbour as usize - end <= 2 * size_of::<usize>(),
        "case {case}: the blocks are not neighbours ({block:?}, {neighbour:?})"
    );
    if let Freed::BlockNextToFree = freed {
        unsafe { dlfree(neighbour.cast()) };
    }
    // From the block's last usable byte up to the neighbour's first: the
    // owner word (with footers) and the neighbour's header.
    unsafe {
        block
            .add(usable)
            .write_bytes(fill, neighbour as usize - end)
    };
    match freed {
        Freed::Neighbour => unsafe { dlfree(neighbour.cast()) },
        Freed::Block | Freed::BlockNextToFree => unsafe { dlfree(block.cast()) },
    }
}

/// The child's entry point: does nothing in a normal test run.
#[test]
fn child_entry() {
    dlmalloc_test_support::child_entry(CHILD_ENV, run_case);
}

/// The two block sizes every case runs with: a small-bin chunk and a
/// large-bin chunk.
const SIZES: [usize; 2] = [24, 2000];

/// Runs `<fill>_<freed>_<size>` for both sizes and asserts each child aborted
/// with exactly `message`.
fn expect_message(fill_freed: &str, message: &str) {
    for size in SIZES {
        let case = format!("{fill_freed}_{size}");
        let out = dlmalloc_test_support::run_child(ENTRY, CHILD_ENV, &case);
        let got = dlmalloc_test_support::assert_aborted_with(&case, &out, message);
        assert_eq!(got, message, "case {case}");
    }
}

/// Runs `<fill>_<freed>_<size>` for both sizes and asserts each child
/// returned normally: the core did not notice.
#[cfg(not(feature = "footers"))]
fn expect_undetected(fill_freed: &str) {
    for size in SIZES {
        let case = format!("{fill_freed}_{size}");
        let out = dlmalloc_test_support::run_child(ENTRY, CHILD_ENV, &case);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.contains(dlmalloc_test_support::UNDETECTED),
            "case {case}: expected the documented undetected outcome (the child returns \
             normally), got {:?}\nstderr:\n{stderr}",
            out.status
        );
    }
}

/// Zeros clear the neighbour's "previous in use" bit: freeing the block
/// sees its neighbour deny that it is in use.
#[test]
fn zeros_over_the_next_header_then_free_the_block_aborts() {
    expect_message("zeros_block", NEXT_NOT_SEEING_IN_USE);
}

/// Zeros or text clear the neighbour's own in-use bit.
#[test]
fn zeros_or_text_over_a_header_then_free_that_block_aborts() {
    expect_message("zeros_neighbour", NOT_IN_USE);
    expect_message("text_neighbour", NOT_IN_USE);
}

#[test]
fn zeros_over_a_free_neighbour_then_free_the_block_aborts() {
    expect_message("zeros_nextfree", NEXT_NOT_SEEING_IN_USE);
}

/// Text leaves the neighbour looking free, with an impossible size: the
/// free of the block refuses to coalesce with it.
#[cfg(not(feature = "footers"))]
#[test]
fn text_over_the_next_header_then_free_the_block_aborts() {
    expect_message("text_block", BAD_NEXT_SIZE);
    expect_message("text_nextfree", BAD_NEXT_SIZE);
}

/// All ones mark the neighbour in use, previous in use and directly
/// mapped: freeing the block finds nothing wrong.
#[cfg(not(feature = "footers"))]
#[test]
fn ones_over_the_next_header_then_free_the_block_is_not_detected() {
    expect_undetected("ones_block");
    expect_undetected("ones_nextfree");
}

/// ... but freeing the neighbour finds no mapping header in front of it.
#[cfg(not(feature = "footers"))]
#[test]
fn ones_over_a_header_then_free_that_block_aborts() {
    expect_message("ones_neighbour", BAD_MAPPING_HEADER);
}

/// With footers the first word past the block is its owner tag: any fill
/// but zeros fails the owner check when the block is freed. (Zeros are
/// caught one check earlier, above.)
#[cfg(feature = "footers")]
#[test]
fn with_footers_text_or_ones_past_the_end_then_free_the_block_aborts() {
    for fill in ["text", "ones"] {
        expect_message(&format!("{fill}_block"), BAD_FOOTER);
        expect_message(&format!("{fill}_nextfree"), BAD_FOOTER);
    }
}

/// With footers, all ones over the neighbour's header: the header now
/// claims a mapped chunk of an impossible size, so the owner word is read
/// from the wrong place and does not match.
#[cfg(feature = "footers")]
#[test]
fn with_footers_ones_over_a_header_then_free_that_block_aborts() {
    expect_message("ones_neighbour", BAD_FOOTER);
}
