//! Runs the C test programs (`c/`) and checks the C side against the
//! heap's own view: a block C's `malloc` returns is one of `DLMalloc`'s.

use dlmalloc::DLMalloc;
use dlmalloc_libc_tests as c;
use dlmalloc_test_support::{assert_aborted_with, child_entry, run_child, serial};

/// Runs one C case; a non-zero result is the line of the failed check.
/// One case at a time: some read process-wide statistics (mallinfo2),
/// which the other cases' blocks would move.
fn run(name: &str, case: unsafe extern "C" fn() -> core::ffi::c_int) {
    let _serial = serial();
    // SAFETY: the C cases take no arguments and clean up after themselves.
    let failed_line = unsafe { case() };
    assert_eq!(
        failed_line, 0,
        "{name}: the check at c/*.c line {failed_line} failed"
    );
}

#[test]
fn malloc_and_free() {
    run("c_malloc_free", c::c_malloc_free);
}

#[test]
fn calloc_zeroes_and_refuses_overflow() {
    run("c_calloc", c::c_calloc);
}

#[test]
fn realloc_keeps_contents_and_fails_cleanly() {
    run("c_realloc", c::c_realloc);
}

#[test]
fn reallocarray_refuses_overflow() {
    run("c_reallocarray", c::c_reallocarray);
}

#[test]
fn aligned_allocations() {
    run("c_aligned", c::c_aligned);
}

#[test]
fn usable_size() {
    run("c_usable_size", c::c_usable_size);
}

#[test]
fn the_c_library_allocates_from_this_heap() {
    run("c_libc_internal", c::c_libc_internal);
}

#[test]
fn glibc_extras() {
    run("c_glibc_extras", c::c_glibc_extras);
}

#[test]
fn threads_of_pthread_create() {
    run("c_threads", c::c_threads);
}

#[test]
fn a_c_block_is_a_block_of_this_heap() {
    let _serial = serial();
    let before = DLMalloc.stats_unflushed().in_use_bytes;
    // SAFETY: c_malloc is malloc.
    let block = unsafe { c::c_malloc(1 << 20) };
    assert!(!block.is_null());
    let during = DLMalloc.stats_unflushed().in_use_bytes;
    // SAFETY: a live block of the core's global heap.
    let usable = unsafe { dlmalloc::raw::dlmalloc_usable_size(block.cast()) };
    assert!(
        usable >= 1 << 20,
        "the heap knows the block: {usable} usable bytes"
    );
    // SAFETY: the block is C's to free, once.
    unsafe { c::c_free(block) };
    assert!(
        during >= before + (1 << 20),
        "the C block counts as in use: {before} -> {during}"
    );
}

const CASE: &str = "DLMALLOC_LIBC_MISUSE";

/// The misuse tests' child: runs the case the parent named.
#[test]
fn misuse_child() {
    child_entry(CASE, |case| match case {
        // SAFETY: deliberate misuse, in a child process.
        "double-free" => unsafe { c::c_double_free() },
        // SAFETY: as above.
        "free-interior" => unsafe { c::c_free_interior() },
        other => panic!("unknown case {other}"),
    });
}

#[test]
fn a_double_free_from_c_is_reported() {
    let out = run_child("misuse_child", CASE, "double-free");
    assert_aborted_with("double-free", &out, "free");
}

#[test]
fn a_pointer_into_a_block_is_reported() {
    let out = run_child("misuse_child", CASE, "free-interior");
    assert_aborted_with("free-interior", &out, "free");
}
