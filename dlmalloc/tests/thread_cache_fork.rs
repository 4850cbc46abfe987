//! Forking while other threads allocate through their caches and arenas:
//! more threads than there can be arenas (at most 32), so every arena is
//! in use at the fork. The child (where only the forking thread lives on)
//! gets the dead threads' cached blocks back into their heaps, allocates
//! normally, and its heap check is clean. A child that deadlocks fails the
//! test instead of hanging it.
#![cfg(target_os = "linux")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use dlmalloc::DLMalloc;
use dlmalloc_platform_std as _;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

const FORKS: usize = 16;
/// Threads allocating meanwhile: more than the most arenas there can be.
const WORKERS: usize = 34;
const CHILD_DEADLINE: Duration = Duration::from_secs(20);

/// Exit codes of the child, one per failed check.
const CHILD_OK: i32 = 0;
const CHILD_BAD_CONTENTS: i32 = 2;
const CHILD_BAD_CHECK: i32 = 3;
const CHILD_CACHE_KEPT: i32 = 4;

/// Runs in the child: no panics (the exit code says what failed).
fn child_work() -> i32 {
    // Every other thread's cache was emptied into the heaps: after a flush
    // the heaps' own count equals the flushed statistics.
    let blocks: Vec<Vec<u64>> = (0..300).map(|i| vec![i as u64; i % 100 + 1]).collect();
    for (i, block) in blocks.iter().enumerate() {
        if block.iter().any(|&x| x != i as u64) {
            return CHILD_BAD_CONTENTS;
        }
    }
    drop(blocks);
    let stats = GLOBAL.stats();
    if GLOBAL.stats_unflushed().in_use_bytes != stats.in_use_bytes {
        return CHILD_CACHE_KEPT;
    }
    if GLOBAL.heap_check().is_err() {
        return CHILD_BAD_CHECK;
    }
    CHILD_OK
}

#[test]
fn fork_while_threads_allocate_through_their_caches() {
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|t| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut rounds = 0usize;
                // At least one round, however soon the forks end (34 threads
                // on 2 cores: a late-started one may see `stop` at once).
                loop {
                    let blocks: Vec<Box<[u8]>> = (0..64)
                        .map(|i| vec![t as u8; (i * 7 + rounds) % 900 + 1].into())
                        .collect();
                    assert!(blocks.iter().all(|b| b.iter().all(|&x| x == t as u8)));
                    rounds += 1;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                rounds
            })
        })
        .collect();
    for _ in 0..FORKS {
        // SAFETY: the child only allocates through this allocator (whose
        // fork handlers made it consistent) and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = child_work();
            // SAFETY: ends the child without running the parent's atexit work.
            unsafe { libc::_exit(code) };
        }
        assert_eq!(
            wait_for(pid),
            CHILD_OK,
            "child {pid} failed (see the exit codes above)"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        assert!(worker.join().unwrap() > 0);
    }
    GLOBAL.heap_check().unwrap();
}

/// The child's exit code; kills it and fails if it does not end in time.
fn wait_for(pid: libc::pid_t) -> i32 {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: polls our own child without blocking.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            assert!(
                libc::WIFEXITED(status),
                "child {pid} died: status {status:#x}"
            );
            return libc::WEXITSTATUS(status);
        }
        if start.elapsed() > CHILD_DEADLINE {
            // SAFETY: kills our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("child {pid} deadlocked");
        }
        thread::sleep(Duration::from_millis(2));
    }
}
