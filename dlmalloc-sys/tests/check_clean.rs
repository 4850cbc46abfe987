//! `dlmalloc_check` after a mix of every kind of operation: returns 0, and
//! with a report callback nothing is reported. And the converse, in a child
//! process: a corrupted chunk header is found and reported (so a clean
//! result above means something).

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

mod common;

use core::ffi::c_void;
use core::ptr::null_mut;

use common::directly_follows;
use dlmalloc_sys::*;
use dlmalloc_test_support::{
    Rng, assert_heap_ok, assert_pattern, fill, heap_violations, run_child,
};

#[test]
fn check_of_a_fresh_heap_is_clean() {
    assert_eq!(unsafe { dlmalloc_check(None, null_mut()) }, 0);
    assert_heap_ok("fresh heap");
}

#[test]
fn check_after_a_mix_of_operations_is_clean() {
    let mut rng = Rng::new(0xC1EA);
    let mut live: Vec<(*mut c_void, usize, u64)> = Vec::new();
    for step in 0..4000u64 {
        match rng.below(10) {
            0..=2 => {
                let size = rng.range(0, 5000);
                let p = unsafe { dlmalloc(size) };
                assert!(!p.is_null());
                unsafe { fill(p.cast(), 0, size, step) };
                live.push((p, size, step));
            }
            3 => {
                let (n, size) = (rng.range(1, 8), rng.range(1, 500));
                let p = unsafe { dlcalloc(n, size) };
                assert!(!p.is_null());
                unsafe { fill(p.cast(), 0, n * size, step) };
                live.push((p, n * size, step));
            }
            4 => {
                let (align, size) = (1 << rng.range(4, 14), rng.range(1, 3000));
                let p = unsafe { dlmemalign(align, size) };
                assert!(!p.is_null());
                unsafe { fill(p.cast(), 0, size, step) };
                live.push((p, size, step));
            }
            5 | 6 if !live.is_empty() => {
                let (p, size, seed) = live.swap_remove(rng.below(live.len()));
                unsafe { assert_pattern(p.cast(), 0, size, seed, "block before free") };
                unsafe { dlfree(p) };
            }
            7 if !live.is_empty() => {
                let i = rng.below(live.len());
                let (p, size, seed) = live[i];
                let new = rng.range(1, 8000);
                let q = unsafe { dlrealloc(p, new) };
                assert!(!q.is_null());
                unsafe { assert_pattern(q.cast(), 0, size.min(new), seed, "reallocated block") };
                unsafe { fill(q.cast(), 0, new, seed) };
                live[i] = (q, new, seed);
            }
            8 => {
                let sizes = [rng.range(1, 300), rng.range(1, 300), rng.range(1, 300)];
                let mut array = [null_mut(); 3];
                let r = unsafe { dlindependent_comalloc(3, sizes.as_ptr(), array.as_mut_ptr()) };
                assert_eq!(r, array.as_mut_ptr());
                for (&p, &size) in array.iter().zip(&sizes) {
                    unsafe { fill(p.cast(), 0, size, step) };
                    live.push((p, size, step));
                }
            }
            9 if live.len() > 10 => {
                let mut batch: Vec<*mut c_void> = live.drain(..10).map(|(p, _, _)| p).collect();
                assert_eq!(unsafe { dlbulk_free(batch.as_mut_ptr(), batch.len()) }, 0);
            }
            _ => {
                let big = unsafe { dlmalloc(rng.range(300_000, 3_000_000)) };
                assert!(!big.is_null());
                unsafe { dlfree(big) };
            }
        }
        if step % 250 == 0 {
            assert_heap_ok(&format!("mix, step {step}"));
        }
    }
    assert_heap_ok("mix, end");
    for (p, size, seed) in live {
        unsafe { assert_pattern(p.cast(), 0, size, seed, "block at the end") };
        unsafe { dlfree(p) };
    }
    unsafe { dlmalloc_trim(0) };
    assert_eq!(unsafe { dlmalloc_check(None, null_mut()) }, 0);
    assert_heap_ok("after freeing everything and trimming");
}

const CHILD_ENV: &str = "DLM_CHECK_CHILD";

/// Runs in the child only: corrupts a chunk header the way a one-word heap
/// overflow would, and expects the checker to report it (not crash, hang,
/// or abort).
#[test]
fn corruption_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let (a, b) = (unsafe { dlmalloc(64) }, unsafe { dlmalloc(64) });
    assert!(
        unsafe { directly_follows(a, b) },
        "two fresh blocks are not adjacent"
    );
    // Zeroed memory after B: whatever the corrupted size makes the walker
    // read as the next header is 0, which a walker must reject, not loop on.
    let after = unsafe { dlcalloc(1, 256) };
    assert!(!after.is_null());
    assert_heap_ok("child, before the corruption");
    let header = unsafe { b.cast::<usize>().sub(1) };
    let original = unsafe { header.read() };
    // Grow B's size field by four alignment units: B now claims to overlap
    // the next chunk.
    unsafe { header.write(original ^ (4 * MALLOC_ALIGNMENT)) };
    let lines = heap_violations();
    unsafe { header.write(original) };
    eprintln!("dlmalloc_check found {} violation(s):", lines.len());
    for line in &lines {
        eprintln!("  {line}");
    }
    assert!(!lines.is_empty(), "a corrupted chunk header went unnoticed");
    assert_heap_ok("child, after restoring the header");
    unsafe { dlfree(a) };
    unsafe { dlfree(b) };
    unsafe { dlfree(after) };
}

#[test]
fn check_finds_a_corrupted_header() {
    // run_child also guards against a checker that loops forever on the
    // corrupted size.
    let out = run_child("corruption_child", CHILD_ENV, "1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("child stderr:\n{stderr}");
    assert!(
        out.status.success(),
        "the corruption child failed ({:?}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("1 passed"),
        "the child did not run its test:\n{stdout}"
    );
    assert!(
        stderr.contains("violation(s):"),
        "no check report from the child:\n{stderr}"
    );
}
