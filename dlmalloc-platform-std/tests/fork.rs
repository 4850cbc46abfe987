//! The allocator stays usable in the child of a `fork` from a parent whose
//! other threads are allocating at that moment (the `pthread_atfork`
//! handlers registered by `init_lock`).
//!
//! Four threads allocate and free in a loop while the main thread forks 50
//! times; each child allocates and frees a few hundred blocks and exits 0.
//! Without the handlers a child would inherit a heap lock held by a thread
//! that does not exist in the child, and deadlock (the child's alarm then
//! kills it and the test fails instead of hanging).

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use dlmalloc_platform_std as _;
use dlmalloc_sys::{dlfree, dlmalloc};

const THREADS: usize = 4;
const FORKS: usize = 50;
const CHILD_ROUNDS: usize = 300;
/// Seconds after which a stuck child is killed by `SIGALRM` (a healthy one
/// takes milliseconds).
const CHILD_TIMEOUT: u32 = 5;
/// Failed children after which the test stops forking and reports.
const MAX_FAILURES: usize = 3;

/// A block size from a counter: mostly small, sometimes a page or more,
/// now and then large enough for a direct mapping.
fn size_for(i: usize) -> usize {
    match i % 16 {
        0 => 300_000,
        1..=3 => 4096 + i % 5000,
        _ => 8 + (i * 37) % 1000,
    }
}

/// Allocates `len` bytes, fills them with `tag` and checks samples back.
/// Returns the block, or `None` if allocation or the check failed.
fn alloc_filled(len: usize, tag: u8) -> Option<*mut u8> {
    // SAFETY: dlmalloc has no preconditions.
    let mem = unsafe { dlmalloc(len) }.cast::<u8>();
    if mem.is_null() {
        return None;
    }
    // SAFETY: the block has at least `len` writable bytes (`len` > 0).
    unsafe {
        mem.write_bytes(tag, len);
        for at in [0, len / 2, len - 1] {
            if mem.add(at).read() != tag {
                return None;
            }
        }
    }
    Some(mem)
}

/// The parent's busy threads: keep a few blocks alive, replace them in turn.
fn churn(stop: &AtomicBool, rounds: &AtomicUsize, seed: usize) {
    let mut held: [*mut c_void; 8] = [std::ptr::null_mut(); 8];
    let mut i = seed;
    while !stop.load(Ordering::Relaxed) {
        let slot = i % held.len();
        // SAFETY: null or a live block from dlmalloc, freed once.
        unsafe { dlfree(held[slot]) };
        held[slot] = alloc_filled(size_for(i), i as u8)
            .expect("allocation in the parent")
            .cast();
        i += 1;
        rounds.fetch_add(1, Ordering::Relaxed);
    }
    for mem in held {
        // SAFETY: null or a live block from dlmalloc, freed once.
        unsafe { dlfree(mem) };
    }
}

/// The child: only async-signal-safe calls and the allocator under test; no
/// panics (they would allocate with and lock std's state), just exit codes.
fn child() -> ! {
    // SAFETY: alarm and _exit are async-signal-safe and have no
    // preconditions.
    unsafe { libc::alarm(CHILD_TIMEOUT) };
    let mut code = 0;
    let mut held: [*mut c_void; 4] = [std::ptr::null_mut(); 4];
    for i in 0..CHILD_ROUNDS {
        let slot = i % held.len();
        // SAFETY: null or a live block from dlmalloc, freed once.
        unsafe { dlfree(held[slot]) };
        match alloc_filled(size_for(i * 7 + 3), i as u8) {
            Some(mem) => held[slot] = mem.cast(),
            None => {
                held[slot] = std::ptr::null_mut();
                code = 1;
            }
        }
    }
    for mem in held {
        // SAFETY: null or a live block from dlmalloc, freed once.
        unsafe { dlfree(mem) };
    }
    // SAFETY: _exit ends the child without running the parent's atexit
    // handlers or flushing its copied stdio buffers.
    unsafe { libc::_exit(code) }
}

#[test]
fn children_of_a_busy_parent_can_allocate() {
    let stop = AtomicBool::new(false);
    let rounds = AtomicUsize::new(0);
    let failures = thread::scope(|scope| {
        let (stop, rounds) = (&stop, &rounds);
        let workers: Vec<_> = (0..THREADS)
            .map(|seed| scope.spawn(move || churn(stop, rounds, seed * 1000)))
            .collect();
        // Make sure the heap (and so the fork handlers) is set up and busy.
        while rounds.load(Ordering::Relaxed) < 1000 {
            thread::yield_now();
        }

        let mut failures = Vec::new();
        for round in 0..FORKS {
            // SAFETY: the child only runs `child`, which is fork-safe.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                child();
            }
            assert!(pid > 0, "fork failed");
            let mut status = 0;
            // SAFETY: `status` is a valid int to write; `pid` is our child.
            let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
            assert_eq!(waited, pid, "waitpid failed");
            if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                failures.push((round, status));
                if failures.len() == MAX_FAILURES {
                    break;
                }
            }
        }

        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            worker.join().expect("a busy thread panicked");
        }
        failures
    });
    assert!(
        failures.is_empty(),
        "children that did not exit 0 (round, wait status): {failures:?}; \
         status 14 is SIGALRM: the child deadlocked"
    );
}
