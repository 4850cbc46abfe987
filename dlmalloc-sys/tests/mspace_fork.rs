//! A locked mspace stays usable in the child of a multi-threaded fork.
//! Three threads hammer one locked mspace (and now and then the global
//! heap), a fourth creates and destroys small locked mspaces (so the fork
//! registry changes under the forks), while the main thread forks 30
//! times. Each child arms a 5 s alarm, allocates, verifies and frees a few
//! hundred blocks in the shared mspace, in the global heap and in a locked
//! mspace of its own, then `_exit`s with 0. A lock left held across the fork
//! would deadlock the child, which then dies of SIGALRM: the parent asserts
//! that every child exited with status 0.

// Every unsafe block below is a call into the raw C API with handles and
// pointers this test got from the same API, or a process call (fork,
// waitpid, _exit, alarm) with valid arguments; a SAFETY line on each would
// repeat that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

use core::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use dlmalloc_sys::*;
use dlmalloc_test_support::{Rng, assert_heap_ok, assert_mspace_ok, fill, first_mismatch, serial};

// libc is not a dependency of this crate; these are the C library's.
unsafe extern "C" {
    fn fork() -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    fn _exit(code: i32) -> !;
    fn alarm(seconds: u32) -> u32;
}

const FORKS: usize = 30;
const HAMMERS: usize = 3;
/// SIGALRM on Linux and the BSDs.
const SIGALRM: i32 = 14;

/// Exit codes of a child, one per way it can fail (a child must not panic:
/// unwinding in a forked copy of the test harness would run the harness).
const CHILD_OK: i32 = 0;
const CHILD_NULL: i32 = 10;
const CHILD_CORRUPT: i32 = 11;
const CHILD_CHECK: i32 = 12;
const CHILD_NO_HEAP: i32 = 13;

/// An mspace handle shared by the threads (the heap is locked).
#[derive(Clone, Copy)]
struct Handle(usize);

impl Handle {
    fn msp(self) -> Mspace {
        self.0 as Mspace
    }
}

/// Allocates `count` blocks with `alloc`, fills, verifies and frees them
/// with `free`. Returns a child exit code; allocates nothing else.
fn churn(
    count: usize,
    seed: u64,
    alloc: impl Fn(usize) -> *mut c_void,
    free: impl Fn(*mut c_void),
) -> i32 {
    let mut rng = Rng::new(seed);
    let mut blocks = [(core::ptr::null_mut::<c_void>(), 0usize); 64];
    for round in 0..count.div_ceil(blocks.len()) {
        for (i, slot) in blocks.iter_mut().enumerate() {
            // Now and then past the mmap threshold.
            let size = if rng.chance(2) {
                rng.range(300 << 10, 400 << 10)
            } else {
                rng.range(1, 2000)
            };
            let p = alloc(size);
            if p.is_null() {
                return CHILD_NULL;
            }
            unsafe { fill(p.cast(), 0, size, seed ^ (round * 64 + i) as u64) };
            *slot = (p, size);
        }
        for (i, &(p, size)) in blocks.iter().enumerate() {
            if unsafe { first_mismatch(p.cast(), 0, size, seed ^ (round * 64 + i) as u64) }
                .is_some()
            {
                return CHILD_CORRUPT;
            }
            free(p);
        }
    }
    CHILD_OK
}

/// What a child does: every heap must work, then `_exit`.
fn child(shared: Handle, n: usize) -> ! {
    unsafe { alarm(5) };
    let seed = 0xC41D_0000 + n as u64;
    let msp = shared.msp();
    let mut code = churn(
        300,
        seed,
        |size| unsafe { mspace_malloc(msp, size) },
        |p| unsafe { mspace_free(msp, p) },
    );
    if code == CHILD_OK {
        code = churn(
            300,
            seed + 1,
            |size| unsafe { dlmalloc(size) },
            |p| unsafe { dlfree(p) },
        );
    }
    if code == CHILD_OK {
        let own = unsafe { create_mspace(0, 1) };
        code = if own.is_null() {
            CHILD_NO_HEAP
        } else {
            let code = churn(
                200,
                seed + 2,
                |size| unsafe { mspace_malloc(own, size) },
                |p| unsafe { mspace_free(own, p) },
            );
            unsafe { destroy_mspace(own) };
            code
        };
    }
    if code == CHILD_OK
        && (unsafe { mspace_check(msp, None, core::ptr::null_mut()) } != 0
            || unsafe { dlmalloc_check(None, core::ptr::null_mut()) } != 0)
    {
        code = CHILD_CHECK;
    }
    unsafe { _exit(code) }
}

/// Mixed operations on the shared mspace (and a few on the global heap)
/// until `stop`; every block verified before it is freed.
fn hammer(id: usize, shared: Handle, stop: &AtomicBool) -> usize {
    let msp = shared.msp();
    let mut rng = Rng::new(0xAB_0000 + id as u64);
    let mut live: Vec<(*mut c_void, usize, u64, bool)> = Vec::new();
    let mut ops = 0;
    while !stop.load(Ordering::Relaxed) || ops < 1000 {
        ops += 1;
        if live.len() < 200 && (live.is_empty() || rng.chance(55)) {
            let size = if rng.chance(2) {
                rng.range(256 << 10, 1 << 20)
            } else {
                rng.range(1, 4000)
            };
            let global = rng.chance(10);
            let p = if global {
                unsafe { dlmalloc(size) }
            } else {
                unsafe { mspace_malloc(msp, size) }
            };
            assert!(!p.is_null(), "hammer {id}: malloc({size})");
            let seed = ((id as u64) << 48) | ops as u64;
            unsafe { fill(p.cast(), 0, size, seed) };
            live.push((p, size, seed, global));
        } else {
            let (p, size, seed, global) = live.swap_remove(rng.below(live.len()));
            let bad = unsafe { first_mismatch(p.cast(), 0, size, seed) };
            assert!(bad.is_none(), "hammer {id}: block corrupted at {bad:?}");
            if global {
                unsafe { dlfree(p) };
            } else {
                unsafe { mspace_free(msp, p) };
            }
        }
    }
    for (p, _, _, global) in live {
        if global {
            unsafe { dlfree(p) };
        } else {
            unsafe { mspace_free(msp, p) };
        }
    }
    ops
}

/// Creates, uses and destroys small locked mspaces until `stop`: the fork
/// handlers walk the registry these join and leave.
fn churn_heaps(stop: &AtomicBool) -> usize {
    let mut made = 0;
    while !stop.load(Ordering::Relaxed) || made < 10 {
        let msp = unsafe { create_mspace(0, 1) };
        assert!(!msp.is_null(), "create_mspace");
        let p = unsafe { mspace_malloc(msp, 1000) };
        assert!(!p.is_null());
        unsafe { mspace_free(msp, p) };
        unsafe { destroy_mspace(msp) };
        made += 1;
    }
    made
}

/// Describes a raw `waitpid` status.
fn describe(status: i32) -> String {
    let signal = status & 0x7f;
    if signal == 0 {
        format!("exited with code {}", (status >> 8) & 0xff)
    } else if signal == SIGALRM {
        "killed by SIGALRM: deadlocked (a heap lock stayed held across fork)".to_string()
    } else {
        format!("killed by signal {signal}")
    }
}

#[test]
fn children_of_a_busy_parent_can_allocate() {
    let _serial = serial();
    let shared = Handle(unsafe { create_mspace(0, 1) } as usize);
    assert!(!shared.msp().is_null());
    let stop = Arc::new(AtomicBool::new(false));
    let mut hammers = Vec::new();
    for id in 0..HAMMERS {
        let stop = Arc::clone(&stop);
        hammers.push(thread::spawn(move || hammer(id, shared, &stop)));
    }
    let churner = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || churn_heaps(&stop))
    };

    let mut failures = Vec::new();
    for n in 0..FORKS {
        // Let the threads get into the middle of operations.
        thread::sleep(std::time::Duration::from_millis(5));
        let pid = unsafe { fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            child(shared, n);
        }
        let mut status = 0;
        let waited = unsafe { waitpid(pid, &mut status, 0) };
        assert_eq!(waited, pid, "waitpid");
        if status != 0 {
            failures.push(format!("child {n}: {}", describe(status)));
        }
    }

    stop.store(true, Ordering::Relaxed);
    let ops: Vec<usize> = hammers
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        .collect();
    let heaps = churner
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    assert!(
        failures.is_empty(),
        "{} of {FORKS} children failed (exit codes: {CHILD_NULL} null, {CHILD_CORRUPT} \
         corrupted, {CHILD_CHECK} heap check, {CHILD_NO_HEAP} no mspace):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    unsafe { assert_mspace_ok(shared.msp(), "parent, after the forks") };
    assert_heap_ok("parent, after the forks");
    unsafe { destroy_mspace(shared.msp()) };
    eprintln!("{FORKS} forks; hammer operations {ops:?}; {heaps} heaps created");
}
