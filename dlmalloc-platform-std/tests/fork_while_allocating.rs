//! Forking while other threads allocate, with `DLMalloc` as the global
//! allocator and a locked mspace shared by the threads: the child inherits
//! heaps that are consistent (the heap check passes) and usable.
//!
//! `fork.rs` forks under raw `dlmalloc`/`dlfree` traffic and lets an
//! alarm kill a stuck child; `dlmalloc-sys`'s `mspace_fork.rs` does the same
//! for raw mspaces. This test differs in what runs at the moment of the
//! fork and in what the child checks:
//! - the parent's threads go through the Rust layer (`GlobalAlloc` with
//!   alignments above the default, so memalign, calloc and realloc too) and
//!   the shared `Mspace<Locked>`, and one thread walks both heaps with the
//!   heap check and trims them in a loop, so many forks land while a heap
//!   walk or a trim holds a lock;
//! - every child allocates through the global allocator (std `Vec`,
//!   `String`, `Box` included) and in the shared mspace, verifies and
//!   reallocates its blocks, frees them, runs the heap check on both heaps,
//!   and reports through its exit code;
//! - the parent waits with `waitpid(WNOHANG)` and kills a child that has not
//!   finished after 10 s, so a deadlock fails the test instead of hanging.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use dlmalloc::{DLMalloc, Locked, Mspace, raw};
use dlmalloc_platform_std as _;
use dlmalloc_test_support::{all_zero, fill, first_mismatch};

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

const FORKS: usize = 50;
/// Threads allocating and freeing in the parent (besides the checker).
const CHURNERS: usize = 3;
/// A child still running after this long is deadlocked (a healthy child
/// takes milliseconds).
const CHILD_TIMEOUT: Duration = Duration::from_secs(10);
/// Blocks each child allocates in each heap.
const CHILD_BLOCKS: usize = 100;

/// Child exit codes, one per way it can fail (a child must not panic: the
/// unwinding would run the forked copy of the test harness, and printing
/// could wait on a stderr lock a parent thread held at the fork).
const CHILD_OK: i32 = 0;
const CHILD_NULL: i32 = 10;
const CHILD_CORRUPT: i32 = 11;
const CHILD_GLOBAL_CHECK: i32 = 12;
const CHILD_MSPACE_CHECK: i32 = 13;
const CHILD_STD_COLLECTIONS: i32 = 14;

/// Why a block operation failed.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// An allocation or realloc returned null.
    Null,
    /// A block's contents changed behind the test's back.
    Corrupt,
}

impl Failure {
    fn exit_code(&self) -> i32 {
        match self {
            Failure::Null => CHILD_NULL,
            Failure::Corrupt => CHILD_CORRUPT,
        }
    }
}

/// One of the two heaps under test. The mspace is reached through its raw
/// handle (`dlmalloc::raw`); the `Mspace` value that owns it outlives every
/// thread and child that uses it.
#[derive(Clone, Copy)]
enum Heap {
    Global,
    Shared(raw::Mspace),
}

/// A block of one heap, filled with the shared test pattern for `tag` (a
/// header written over the block, or a neighbour's bytes, stand out).
struct Block {
    ptr: *mut u8,
    layout: Layout,
    tag: u8,
}

impl Heap {
    /// A block of `layout`, zeroed if asked, filled for `tag`.
    fn alloc(self, layout: Layout, zeroed: bool, tag: u8) -> Result<Block, Failure> {
        // An mspace has no zeroing memalign: aligned mspace blocks are plain.
        let zeroed = zeroed && self.can_realloc_align(layout.align());
        // SAFETY: every layout here has a non-zero size; the mspace is live
        // (the type's contract) and locked.
        let ptr = unsafe {
            match self {
                Heap::Global if zeroed => GLOBAL.alloc_zeroed(layout),
                Heap::Global => GLOBAL.alloc(layout),
                Heap::Shared(msp) if zeroed && layout.align() <= raw::MALLOC_ALIGNMENT => {
                    raw::mspace_calloc(msp, 1, layout.size()).cast()
                }
                Heap::Shared(msp) => {
                    raw::mspace_memalign(msp, layout.align(), layout.size()).cast()
                }
            }
        };
        if ptr.is_null() {
            return Err(Failure::Null);
        }
        if ptr.addr() % layout.align() != 0 {
            return Err(Failure::Corrupt);
        }
        let mut block = Block { ptr, layout, tag };
        if zeroed && !block.zeroed() {
            return Err(Failure::Corrupt);
        }
        block.fill(0);
        Ok(block)
    }

    /// Resizes `block` to `new_size` bytes (the alignment stays that of the
    /// layout), checking the kept bytes and filling the new ones.
    fn realloc(self, block: &mut Block, new_size: usize) -> Result<(), Failure> {
        let kept = block.layout.size().min(new_size);
        // SAFETY: `block.ptr` is a live block of this heap with
        // `block.layout`; `new_size` is non-zero. Global's realloc keeps the
        // layout's alignment; mspace_realloc keeps MALLOC_ALIGNMENT, which
        // is why only blocks with at most that alignment are resized in the
        // mspace.
        let moved = unsafe {
            match self {
                Heap::Global => GLOBAL.realloc(block.ptr, block.layout, new_size),
                Heap::Shared(msp) => raw::mspace_realloc(msp, block.ptr.cast(), new_size).cast(),
            }
        };
        if moved.is_null() {
            return Err(Failure::Null);
        }
        block.ptr = moved;
        block.layout =
            Layout::from_size_align(new_size, block.layout.align()).expect("a valid layout");
        if block.ptr.addr() % block.layout.align() != 0 || !block.intact(kept) {
            return Err(Failure::Corrupt);
        }
        block.fill(kept);
        Ok(())
    }

    /// Checks `block` in full and frees it.
    fn free(self, block: Block) -> Result<(), Failure> {
        let intact = block.intact(block.layout.size());
        // SAFETY: `block.ptr` is a live block of this heap with
        // `block.layout`, freed once (the block is consumed).
        unsafe {
            match self {
                Heap::Global => GLOBAL.dealloc(block.ptr, block.layout),
                Heap::Shared(msp) => raw::mspace_free(msp, block.ptr.cast::<c_void>()),
            }
        }
        if intact {
            Ok(())
        } else {
            Err(Failure::Corrupt)
        }
    }

    /// Whether `realloc` keeps `block`'s alignment in this heap.
    fn can_realloc(self, block: &Block) -> bool {
        self.can_realloc_align(block.layout.align())
    }

    /// Whether this heap's realloc (and calloc) serve blocks aligned to
    /// `align`: the global allocator's always, the mspace's raw calls only
    /// up to the default alignment.
    fn can_realloc_align(self, align: usize) -> bool {
        matches!(self, Heap::Global) || align <= raw::MALLOC_ALIGNMENT
    }
}

impl Block {
    /// Whether every byte is zero.
    fn zeroed(&self) -> bool {
        // SAFETY: the block is live and `layout.size()` bytes long.
        unsafe { all_zero(self.ptr, self.layout.size()) }
    }

    /// Writes the pattern for `tag` over `from..size`.
    fn fill(&mut self, from: usize) {
        // SAFETY: the block is live, `layout.size()` bytes long, and only
        // its owner (the `&mut self` holder) touches it.
        unsafe { fill(self.ptr, from, self.layout.size(), u64::from(self.tag)) };
    }

    /// Whether the first `len` bytes hold the pattern.
    fn intact(&self, len: usize) -> bool {
        // SAFETY: as in `fill`; read only, `len` is at most the size.
        unsafe { first_mismatch(self.ptr, 0, len, u64::from(self.tag)) }.is_none()
    }
}

/// A size and alignment from a counter: mostly small, sometimes pages, now
/// and then past the 256 KiB mmap threshold, and some aligned to 64 B or a
/// page (memalign).
fn layout_for(i: usize) -> Layout {
    let size = match i % 17 {
        0 => 300_000 + i % 1000,
        1..=3 => 4096 + (i * 131) % 20_000,
        _ => 1 + (i * 37) % 1000,
    };
    let align = match i % 7 {
        0 => 4096,
        1 => 64,
        _ => 8,
    };
    Layout::from_size_align(size, align).expect("a valid layout")
}

/// `rounds` operations on `heap`: keeps up to 16 blocks, replacing,
/// reallocating and freeing them in turn; every block is checked before it
/// is resized or freed. Frees everything at the end.
fn churn(heap: Heap, seed: usize, rounds: usize) -> Result<(), Failure> {
    let mut held: [Option<Block>; 16] = Default::default();
    let mut outcome = Ok(());
    for i in seed..seed + rounds {
        let slot = &mut held[i % 16];
        let step = match slot.take() {
            None => heap
                .alloc(layout_for(i), i % 5 == 0, i as u8)
                .map(|block| *slot = Some(block)),
            Some(mut block) if i % 3 == 0 && heap.can_realloc(&block) => {
                let new_size = if i % 2 == 0 {
                    block.layout.size() * 2
                } else {
                    block.layout.size() / 2 + 1
                };
                let step = heap.realloc(&mut block, new_size);
                *slot = Some(block);
                step
            }
            Some(block) => heap.free(block),
        };
        if step.is_err() {
            outcome = step;
            break;
        }
    }
    for block in held.into_iter().flatten() {
        let step = heap.free(block);
        if outcome.is_ok() {
            outcome = step;
        }
    }
    outcome
}

/// std collections in the global heap: a vector that grows past the mmap
/// threshold, strings and boxes. `true` if every value reads back.
fn std_collections_work(seed: usize) -> bool {
    let numbers: Vec<usize> = (0..50_000).map(|i| i ^ seed).collect();
    let words: Vec<String> = (0..500).map(|i| format!("word {i} of {seed}")).collect();
    let boxes: Vec<Box<[u8; 100]>> = (0..100).map(|i| Box::new([i as u8; 100])).collect();
    numbers.iter().enumerate().all(|(i, &n)| n == i ^ seed)
        && words
            .iter()
            .enumerate()
            .all(|(i, w)| *w == format!("word {i} of {seed}"))
        && boxes
            .iter()
            .enumerate()
            .all(|(i, b)| b.iter().all(|&x| x == i as u8))
}

/// What a child does; returns its exit code.
fn child(shared: raw::Mspace, n: usize) -> i32 {
    let seed = 1_000_000 + n * 10_000;
    if let Err(failure) = churn(Heap::Global, seed, CHILD_BLOCKS) {
        return failure.exit_code();
    }
    if let Err(failure) = churn(Heap::Shared(shared), seed + 5_000, CHILD_BLOCKS) {
        return failure.exit_code();
    }
    if !std_collections_work(seed) {
        return CHILD_STD_COLLECTIONS;
    }
    if GLOBAL.heap_check().is_err() {
        return CHILD_GLOBAL_CHECK;
    }
    // SAFETY: the mspace is live (owned by the test's `Mspace`, copied into
    // the child with the rest of memory); the check only reads it.
    if unsafe { raw::mspace_check(shared, None, std::ptr::null_mut()) } != 0 {
        return CHILD_MSPACE_CHECK;
    }
    CHILD_OK
}

/// Waits for `pid`, killing it once it has run for [`CHILD_TIMEOUT`].
/// Returns `Ok(wait status)` or `Err(description)` if it had to be killed.
fn wait_with_timeout(pid: libc::pid_t) -> Result<i32, String> {
    let started = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid int to write; `pid` is our child.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(waited >= 0, "waitpid failed");
        if waited == pid {
            return Ok(status);
        }
        if started.elapsed() >= CHILD_TIMEOUT {
            // SAFETY: `pid` is our child, not yet reaped; killing and
            // reaping it has no other effect.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(format!(
                "still running after {} s: deadlocked (a heap lock stayed held across fork), \
                 killed",
                CHILD_TIMEOUT.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Describes a child's wait status.
fn describe(status: i32) -> String {
    if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        let why = match code {
            CHILD_NULL => "an allocation returned null",
            CHILD_CORRUPT => "a block was corrupted or misaligned",
            CHILD_GLOBAL_CHECK => "the global heap check failed",
            CHILD_MSPACE_CHECK => "the shared mspace check failed",
            CHILD_STD_COLLECTIONS => "std collections read back wrong values",
            _ => "unexpected exit code",
        };
        format!("exited with {code}: {why}")
    } else if libc::WIFSIGNALED(status) {
        format!(
            "killed by signal {} (SIGABRT: the core detected corruption)",
            libc::WTERMSIG(status)
        )
    } else {
        format!("wait status {status:#x}")
    }
}

/// The parent's checker thread: heap checks, statistics and trims of both
/// heaps in a loop, so forks also land while a whole-heap walk holds a lock.
fn check_and_trim(shared: &Mspace<Locked>, stop: &AtomicBool, rounds: &AtomicUsize) {
    while !stop.load(Ordering::Relaxed) {
        if let Err(error) = GLOBAL.heap_check() {
            panic!("parent, global heap: {error}");
        }
        if let Err(error) = shared.heap_check() {
            panic!("parent, shared mspace: {error}");
        }
        let stats = shared.stats();
        assert_eq!(
            stats.in_use_bytes + stats.free_bytes,
            stats.arena_bytes + stats.mmapped_bytes,
            "parent, shared mspace: inconsistent statistics\n{stats}"
        );
        GLOBAL.trim(0);
        shared.trim(0);
        rounds.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn children_inherit_consistent_usable_heaps() {
    let shared = Mspace::new_locked(0);
    let msp = shared.as_raw() as usize;
    let stop = AtomicBool::new(false);
    let churned = AtomicUsize::new(0);
    let checks = AtomicUsize::new(0);

    let failures = thread::scope(|scope| {
        let (stop, churned, checks, shared) = (&stop, &churned, &checks, &shared);
        let churners: Vec<_> = (0..CHURNERS)
            .map(|t| {
                scope.spawn(move || {
                    let mut seed = t * 100_000_000;
                    while !stop.load(Ordering::Relaxed) {
                        let heap = if seed % 2 == 0 {
                            Heap::Global
                        } else {
                            Heap::Shared(msp as raw::Mspace)
                        };
                        churn(heap, seed, 64).expect("the parent's blocks stay intact");
                        seed += 64;
                        churned.fetch_add(64, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let checker = scope.spawn(move || check_and_trim(shared, stop, checks));

        // Fork only once the threads are busy.
        while churned.load(Ordering::Relaxed) < 1_000 || checks.load(Ordering::Relaxed) == 0 {
            thread::yield_now();
        }
        let mut failures = Vec::new();
        for n in 0..FORKS {
            thread::sleep(Duration::from_millis(2));
            // SAFETY: the child runs only `child` and `_exit`: allocator
            // calls, made safe after fork by the platform's atfork handlers
            // (which this test checks), and no lock of std.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                let code = child(msp as raw::Mspace, n);
                // SAFETY: _exit ends the child at once, without the
                // parent's atexit handlers or its copied stdio buffers.
                unsafe { libc::_exit(code) };
            }
            match wait_with_timeout(pid) {
                Ok(0) => {}
                Ok(status) => failures.push(format!("child {n}: {}", describe(status))),
                Err(why) => failures.push(format!("child {n}: {why}")),
            }
        }
        stop.store(true, Ordering::Relaxed);
        for churner in churners {
            churner
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
        checker
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        failures
    });

    assert!(
        failures.is_empty(),
        "{} of {FORKS} children failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    if let Err(error) = shared.heap_check() {
        panic!("parent, shared mspace after the forks: {error}");
    }
    if let Err(error) = GLOBAL.heap_check() {
        panic!("parent, global heap after the forks: {error}");
    }
    eprintln!(
        "{FORKS} forks; {} parent operations and {} check rounds meanwhile",
        churned.load(Ordering::Relaxed),
        checks.load(Ordering::Relaxed)
    );
}
