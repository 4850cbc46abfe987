//! Detected misuse ends the process through `custom_abort`: double free,
//! freeing a pointer the heap never returned, and freeing a misaligned
//! pointer. Each case runs in a child process (this test binary re-executed
//! with `DLM_MISUSE_CHILD=<case>`); the parent asserts that the child died
//! of SIGABRT and that stderr carries the platform's `dlmalloc: <msg>`
//! line naming the problem.

// Every unsafe block below is a call into the raw C API, on purpose with
// invalid pointers: that is the misuse under test, and it only ever runs
// in a child process that is expected to abort.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

mod common;

use core::ffi::c_void;

use dlmalloc_sys::*;

const CHILD_ENV: &str = "DLM_MISUSE_CHILD";

/// Zeroed memory the heap never handed out, aligned like a real block.
#[repr(C, align(16))]
struct Zeroed([u8; 256]);
static NEVER_ALLOCATED: Zeroed = Zeroed([0; 256]);

/// Performs one misuse. Returns only if the core failed to detect it.
fn run_case(case: &str) {
    match case {
        "double_free" => {
            // Neighbours on both sides keep the freed chunk a separate free
            // chunk (not merged into top or into a free neighbour).
            let before = unsafe { dlmalloc(64) };
            let p = unsafe { dlmalloc(64) };
            let after = unsafe { dlmalloc(64) };
            assert!(!before.is_null() && !p.is_null() && !after.is_null());
            unsafe { dlfree(p) };
            unsafe { dlfree(p) };
        }
        "double_free_into_top" => {
            // The brief's plain form: the freed chunk merges into top.
            let p = unsafe { dlmalloc(64) };
            assert!(!p.is_null());
            unsafe { dlfree(p) };
            unsafe { dlfree(p) };
        }
        "interior_pointer" => {
            // A pointer into the middle of a live block: its "header" word
            // reads 0.
            let block = unsafe { dlcalloc(1, 4096) };
            assert!(!block.is_null());
            unsafe { dlfree(block.cast::<u8>().add(256).cast::<c_void>()) };
        }
        "static_pointer" => {
            // Zeroed static memory, 16-aligned, preceded by a zero word.
            let p = NEVER_ALLOCATED.0.as_ptr().wrapping_add(128);
            unsafe { dlfree(p.cast_mut().cast::<c_void>()) };
        }
        "misaligned_pointer" => {
            let p = unsafe { dlmalloc(64) };
            assert!(!p.is_null());
            unsafe { dlfree(p.cast::<u8>().add(1).cast::<c_void>()) };
        }
        "realloc_after_free" => {
            let before = unsafe { dlmalloc(64) };
            let p = unsafe { dlmalloc(64) };
            let after = unsafe { dlmalloc(64) };
            assert!(!before.is_null() && !p.is_null() && !after.is_null());
            unsafe { dlfree(p) };
            let q = unsafe { dlrealloc(p, 128) };
            eprintln!("dlrealloc of a freed block returned {q:?}");
        }
        other => panic!("unknown misuse case {other}"),
    }
}

/// The child's entry point: does nothing in a normal test run.
#[test]
fn child_entry() {
    let Some(case) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let case = case.to_string_lossy().into_owned();
    run_case(&case);
    eprintln!("MISUSE NOT DETECTED: case {case} returned normally");
}

/// Runs `case` in a child, asserts it died of SIGABRT with a
/// `dlmalloc: <msg> (<file>:<line>)` line, and returns the child's stderr.
fn expect_abort(case: &str) -> String {
    let out = common::run_child("child_entry", CHILD_ENV, case);
    // Any message will do here; assert_mentions_free checks the wording.
    common::assert_aborted_with(case, &out, "");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the abort message names the problem: it mentions "free"
/// (any case). The exact wording is the core's to choose.
fn assert_mentions_free(case: &str, stderr: &str) {
    let line = stderr
        .lines()
        .find(|l| l.contains("dlmalloc:"))
        .unwrap_or_default();
    let message = line.split(" (").next().unwrap_or_default().to_lowercase();
    assert!(
        message.contains("free"),
        "case {case}: the message does not say `free`: {line}"
    );
}

#[test]
fn double_free_aborts() {
    let stderr = expect_abort("double_free");
    assert_mentions_free("double_free", &stderr);
}

#[test]
fn double_free_merged_into_top_aborts() {
    let stderr = expect_abort("double_free_into_top");
    assert_mentions_free("double_free_into_top", &stderr);
}

#[test]
fn free_of_an_interior_pointer_aborts() {
    let stderr = expect_abort("interior_pointer");
    assert_mentions_free("interior_pointer", &stderr);
}

#[test]
fn free_of_a_static_pointer_aborts() {
    let stderr = expect_abort("static_pointer");
    assert_mentions_free("static_pointer", &stderr);
}

#[test]
fn free_of_a_misaligned_pointer_aborts() {
    let stderr = expect_abort("misaligned_pointer");
    assert_mentions_free("misaligned_pointer", &stderr);
}

#[test]
fn realloc_of_a_freed_block_aborts() {
    // The message may name realloc rather than free; only the abort and the
    // `dlmalloc:` line are required.
    expect_abort("realloc_after_free");
}
