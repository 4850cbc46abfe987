//! A long stress run of [`DLMalloc`] as the global allocator, aimed at the
//! per-thread caches and arenas: blocks freed and resized by threads that
//! did not allocate them, threads that exit while their blocks live on, and
//! new threads that take over the released arenas.
//!
//! Eight workers (more than the machine's cores) each keep up to
//! [`MAX_LIVE`] blocks of random sizes (mostly up to 1 KiB, some up to
//! 32 KiB, a few up to 300 KiB) and alignments (1, 8, 16, 64, 4096), and
//! call `GlobalAlloc::alloc`, `alloc_zeroed`, `realloc` and `dealloc`
//! directly. Every block carries a pattern derived from (worker, serial
//! number), over its whole length (sampled past 64 KiB), checked before
//! every free and realloc and when another thread receives it; zeroed
//! blocks must read zero and a realloc must keep the prefix.
//!
//! Each worker regularly sends a batch of its blocks to the next worker
//! over a channel; the receiver checks them, then frees some at once (some
//! of the small ones with C's `dlfree`, or after growing them with
//! `dlrealloc`), reallocates some and keeps the rest for later. Each worker
//! runs for a random slice of the run; when it exits, its blocks go to the
//! next worker or to the supervisor (this test's thread), which checks
//! them, frees some and hands the others to the worker it starts in the
//! exited one's place, until the time is up. A checker thread runs the heap
//! check and reads the statistics while the workers run. At the end every
//! block is freed, the heap must check clean and the bytes in use must be
//! back to what they were before the run.
//!
//! `DLM_STRESS_SECONDS` sets the duration (default 2 s, the CI run);
//! `DLM_STRESS_SEED` (hexadecimal) repeats a run's random choices (the
//! threads' interleaving still differs). The long run:
//!
//! ```text
//! DLM_STRESS_SECONDS=60 cargo test --release -p dlmalloc-portable --test stress_arenas -- --nocapture
//! ```
#![cfg(any(target_os = "linux", windows))]

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dlmalloc::{DLMalloc, raw};
use dlmalloc_platform_std as _;
use dlmalloc_test_support::pattern::{fill_sampled, first_sampled_mismatch, pattern_byte};
use dlmalloc_test_support::{Rng, all_zero};

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// Workers running at once: more than the machine's cores.
const SLOTS: usize = 8;
/// Live blocks a worker keeps at most.
const MAX_LIVE: usize = 2000;
/// Blocks the supervisor keeps from exited workers at most.
const POOL_MAX: usize = 2000;
/// Blocks of the supervisor's a new worker starts with at most.
const HANDOVER: usize = 400;
/// The largest request the thread caches serve.
const CACHED: usize = 32 << 10;
/// The largest size a block grows to by realloc.
const LARGEST: usize = 400 << 10;
/// Growth of the bytes in use over the run left to std's and the test
/// harness's own bookkeeping, and to the state of the arenas first taken
/// during the run (about 1 KiB each; arenas are never destroyed).
const ALLOWANCE: usize = 64 << 10;
/// Pause of the checker thread between two rounds.
const CHECK_PAUSE: Duration = Duration::from_millis(40);
/// Pause of the supervisor between two looks at its workers.
const POLL: Duration = Duration::from_millis(2);
/// The supervisor's number as the allocator of blocks; workers count from 1.
const SUPERVISOR: u64 = 0;

/// Set when a thread failed (or the run ends): every thread winds down.
static STOP: AtomicBool = AtomicBool::new(false);
/// The run's seed, for failure messages.
static RUN_SEED: AtomicU64 = AtomicU64::new(0);

/// The run's duration: `DLM_STRESS_SECONDS`, 2 s when unset.
fn duration() -> Duration {
    let seconds = match std::env::var("DLM_STRESS_SECONDS") {
        Ok(text) => text.trim().parse::<f64>().unwrap_or_else(|_| {
            panic!("DLM_STRESS_SECONDS={text:?}: expected a number of seconds")
        }),
        Err(_) => 2.0,
    };
    Duration::from_secs_f64(seconds)
}

/// The run's seed: `DLM_STRESS_SEED` (hexadecimal), else from the clock.
fn run_seed() -> u64 {
    match std::env::var("DLM_STRESS_SEED") {
        Ok(text) => {
            let digits = text.trim().trim_start_matches("0x");
            u64::from_str_radix(digits, 16).unwrap_or_else(|_| {
                panic!("DLM_STRESS_SEED={text:?}: expected a hexadecimal number")
            })
        }
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0x5eed, |t| t.as_nanos() as u64),
    }
}

fn seed_now() -> u64 {
    RUN_SEED.load(Ordering::Relaxed)
}

/// A request size: mostly up to 1 KiB (many tiny), some up to the caches'
/// limit, a few beyond it, past the arenas' limit (128 KiB) and the mmap
/// threshold (256 KiB).
fn pick_size(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..=29 => rng.range(1, 32),
        30..=84 => rng.range(1, 1024),
        85..=97 => rng.range(1025, CACHED),
        _ => rng.range(CACHED + 1, 300 << 10),
    }
}

/// An alignment: mostly those of plain malloc (served by the caches and
/// the arenas), some larger (served by the global heap's memalign).
fn pick_align(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..=29 => 1,
        30..=59 => 8,
        60..=84 => 16,
        85..=94 => 64,
        _ => 4096,
    }
}

/// The shortest a worker runs.
const MIN_SLICE: Duration = Duration::from_millis(20);

/// How long a worker runs: a random slice of the run, so workers exit and
/// are replaced several times whatever the duration.
fn pick_slice(rng: &mut Rng, run: Duration) -> Duration {
    let longest = (run / 4).clamp(Duration::from_millis(20), Duration::from_secs(3));
    longest.mul_f64(0.2 + 0.8 * rng.below(1001) as f64 / 1000.0)
}

/// Panics unless the sampled pattern of a block filled at `size` bytes with
/// `seed` still holds at `p` below `len`.
#[track_caller]
fn check_pattern(p: *const u8, size: usize, len: usize, seed: u64, what: &str) {
    // SAFETY: the callers pass a live block of at least `len` bytes.
    let Some(at) = (unsafe { first_sampled_mismatch(p, size, len, seed) }) else {
        return;
    };
    // SAFETY: the offset is below `len`.
    let found = unsafe { p.add(at).read() };
    panic!(
        "{what}: block {p:?} ({size} bytes, {len} checked) of worker {} (serial {}) corrupted \
         at offset {at}: {found:#04x} instead of {:#04x}; DLM_STRESS_SEED={:#x}",
        seed >> 40,
        seed & ((1 << 40) - 1),
        pattern_byte(seed, at),
        seed_now()
    );
}

/// A live block of [`GLOBAL`] and what is known of it.
struct Block {
    ptr: NonNull<u8>,
    /// The layout it was allocated (or last reallocated) with.
    layout: Layout,
    /// The seed of its pattern: (worker, serial number).
    seed: u64,
    /// The worker that allocated (or last reallocated) it.
    by: u64,
}

// SAFETY: a `Block` is the only handle to its allocation (nothing else
// points to it), and `DLMalloc`'s blocks may be used, freed and resized on
// any thread.
unsafe impl Send for Block {}

impl Block {
    /// Panics unless the block holds its pattern in full.
    #[track_caller]
    fn verify(&self, what: &str) {
        let size = self.layout.size();
        check_pattern(self.ptr.as_ptr(), size, size, self.seed, what);
    }
}

/// Counts of what the threads did.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    allocs: u64,
    zeroed: u64,
    frees: u64,
    cross_frees: u64,
    c_frees: u64,
    reallocs: u64,
    cross_reallocs: u64,
    c_reallocs: u64,
    sent: u64,
    received: u64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.allocs += other.allocs;
        self.zeroed += other.zeroed;
        self.frees += other.frees;
        self.cross_frees += other.cross_frees;
        self.c_frees += other.c_frees;
        self.reallocs += other.reallocs;
        self.cross_reallocs += other.cross_reallocs;
        self.c_reallocs += other.c_reallocs;
        self.sent += other.sent;
        self.received += other.received;
    }
}

/// One thread's blocks and generator (the supervisor's too).
struct Worker {
    id: u64,
    rng: Rng,
    serial: u64,
    live: Vec<Block>,
    /// The number of live blocks this worker tends to.
    target: usize,
    tally: Tally,
}

/// What a worker leaves when it exits.
struct Exit {
    inbox: Receiver<Vec<Block>>,
    blocks: Vec<Block>,
    tally: Tally,
}

impl Worker {
    fn new(id: u64, live: Vec<Block>) -> Worker {
        let mut rng = Rng::new(seed_now() ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let target = rng.range(MAX_LIVE / 4, MAX_LIVE);
        Worker {
            id,
            rng,
            serial: 0,
            live,
            target,
            tally: Tally::default(),
        }
    }

    /// A pattern seed no other block has: (worker, serial number).
    fn next_seed(&mut self) -> u64 {
        self.serial += 1;
        (self.id << 40) | self.serial
    }

    fn allocate(&mut self) -> Block {
        let size = pick_size(&mut self.rng);
        let layout = Layout::from_size_align(size, pick_align(&mut self.rng)).unwrap();
        let zeroed = self.rng.chance(20);
        // SAFETY: the layout has a non-zero size.
        let p = unsafe {
            if zeroed {
                GLOBAL.alloc_zeroed(layout)
            } else {
                GLOBAL.alloc(layout)
            }
        };
        let Some(ptr) = NonNull::new(p) else {
            panic!(
                "allocating {layout:?} failed; DLM_STRESS_SEED={:#x}",
                seed_now()
            );
        };
        assert_eq!(
            p as usize % layout.align(),
            0,
            "{layout:?}: misaligned {p:?}"
        );
        self.tally.allocs += 1;
        if zeroed {
            self.tally.zeroed += 1;
            // SAFETY: a fresh block of `size` bytes.
            let zero = unsafe { all_zero(p, size) };
            assert!(
                zero,
                "alloc_zeroed({layout:?}) returned {p:?} with non-zero bytes; \
                 DLM_STRESS_SEED={:#x}",
                seed_now()
            );
        }
        let seed = self.next_seed();
        // SAFETY: a fresh block of `size` bytes, ours alone.
        unsafe { fill_sampled(p, size, seed) };
        Block {
            ptr,
            layout,
            seed,
            by: self.id,
        }
    }

    /// Checks and frees a block with `dealloc`.
    fn free(&mut self, block: Block) {
        block.verify("before dealloc");
        if block.by != self.id {
            self.tally.cross_frees += 1;
        }
        self.tally.frees += 1;
        // SAFETY: a live block of GLOBAL allocated with this layout, given
        // up here (the `Block` is consumed).
        unsafe { GLOBAL.dealloc(block.ptr.as_ptr(), block.layout) };
    }

    /// Checks and frees a block with C's `dlfree`.
    fn c_free(&mut self, block: Block) {
        // Only blocks with at most malloc's alignment (16 bytes) are freed
        // through the C API here; DLMalloc serves those like plain malloc
        // (from a thread cache, an arena or the global heap), and the C API
        // accepts DLMalloc's blocks whichever heap they came from.
        assert!(block.layout.align() <= raw::MALLOC_ALIGNMENT);
        block.verify("before dlfree");
        if block.by != self.id {
            self.tally.cross_frees += 1;
        }
        self.tally.frees += 1;
        self.tally.c_frees += 1;
        // SAFETY: a live block of GLOBAL (which the C API accepts, see
        // above), given up here.
        unsafe { raw::dlfree(block.ptr.as_ptr().cast()) };
    }

    /// Grows a block with C's `dlrealloc`, checks that it kept its
    /// contents, and frees it with `dlfree`.
    fn c_realloc_and_free(&mut self, block: Block) {
        // As in `c_free`: only blocks with at most malloc's alignment.
        assert!(block.layout.align() <= raw::MALLOC_ALIGNMENT);
        block.verify("before dlrealloc");
        let old = block.layout.size();
        let new_size = old + self.rng.range(1, 64 << 10);
        // SAFETY: a live block of GLOBAL (which the C API accepts), given
        // up here; the result replaces it.
        let p = unsafe { raw::dlrealloc(block.ptr.as_ptr().cast(), new_size) }.cast::<u8>();
        assert!(!p.is_null(), "dlrealloc to {new_size} bytes failed");
        assert_eq!(
            p as usize % raw::MALLOC_ALIGNMENT,
            0,
            "dlrealloc: misaligned"
        );
        check_pattern(p, old, old, block.seed, "after dlrealloc");
        if block.by != self.id {
            self.tally.cross_reallocs += 1;
        }
        self.tally.c_reallocs += 1;
        self.tally.frees += 1;
        self.tally.c_frees += 1;
        // SAFETY: the live block dlrealloc returned, freed once.
        unsafe { raw::dlfree(p.cast()) };
    }

    /// Checks a block, resizes it with `realloc` (to a size near the old
    /// one or to any size), checks the kept prefix and patterns it anew.
    fn realloc(&mut self, block: Block) -> Block {
        block.verify("before realloc");
        let old = block.layout.size();
        let align = block.layout.align();
        let new_size = if self.rng.chance(50) {
            pick_size(&mut self.rng)
        } else {
            let delta = self.rng.range(0, old / 2 + 16);
            if self.rng.chance(50) {
                (old + delta).min(LARGEST)
            } else {
                old.saturating_sub(delta).max(1)
            }
        };
        // SAFETY: a live block of GLOBAL allocated with this layout, given
        // up here; `new_size` is non-zero and, rounded up to the alignment
        // (at most 4096), far below isize::MAX.
        let p = unsafe { GLOBAL.realloc(block.ptr.as_ptr(), block.layout, new_size) };
        let Some(ptr) = NonNull::new(p) else {
            panic!(
                "realloc of {:?} to {new_size} bytes failed; DLM_STRESS_SEED={:#x}",
                block.layout,
                seed_now()
            );
        };
        assert_eq!(
            p as usize % align,
            0,
            "realloc to {new_size}: misaligned {p:?}"
        );
        check_pattern(
            p,
            old,
            old.min(new_size),
            block.seed,
            "after realloc (the kept prefix)",
        );
        self.tally.reallocs += 1;
        if block.by != self.id {
            self.tally.cross_reallocs += 1;
        }
        let seed = self.next_seed();
        // SAFETY: the live block realloc returned, of `new_size` bytes.
        unsafe { fill_sampled(p, new_size, seed) };
        Block {
            ptr,
            layout: Layout::from_size_align(new_size, align).unwrap(),
            seed,
            by: self.id,
        }
    }

    /// Keeps a block among the live ones, or frees it when there are
    /// enough.
    fn keep(&mut self, block: Block) {
        if self.live.len() < MAX_LIVE {
            self.live.push(block);
        } else {
            self.free(block);
        }
    }

    /// Takes a live block at random out of the live set.
    fn take_random(&mut self) -> Block {
        let i = self.rng.below(self.live.len());
        self.live.swap_remove(i)
    }

    /// A block from another thread: checked, then freed (through the C
    /// API for some small ones), resized or kept.
    fn receive(&mut self, block: Block) {
        self.tally.received += 1;
        block.verify("received block");
        let small = block.layout.size() <= CACHED && block.layout.align() <= raw::MALLOC_ALIGNMENT;
        match self.rng.below(100) {
            0..=29 => self.free(block),
            30..=37 if small => self.c_free(block),
            38..=39 if small => self.c_realloc_and_free(block),
            40..=49 => {
                let block = self.realloc(block);
                self.keep(block);
            }
            _ => self.keep(block),
        }
    }

    /// One operation on the live set: allocate, free or realloc.
    fn step(&mut self) {
        let alloc_percent = if self.live.len() >= MAX_LIVE {
            0
        } else if self.live.len() < self.target {
            70
        } else {
            40
        };
        let r = self.rng.below(100);
        if self.live.is_empty() || r < alloc_percent {
            let block = self.allocate();
            self.live.push(block);
        } else if r < alloc_percent + (100 - alloc_percent) * 3 / 4 {
            let block = self.take_random();
            self.free(block);
        } else {
            let block = self.take_random();
            let block = self.realloc(block);
            self.live.push(block);
        }
    }

    /// Sends `count` random live blocks (at most all) to the next worker.
    fn send(&mut self, next: &Sender<Vec<Block>>, count: usize) {
        let count = count.min(self.live.len());
        let mut batch = Vec::with_capacity(count);
        for _ in 0..count {
            batch.push(self.take_random());
        }
        self.tally.sent += batch.len() as u64;
        if let Err(mpsc::SendError(batch)) = next.send(batch) {
            // The next worker failed (and the test with it): free them here.
            for block in batch {
                self.free(block);
            }
        }
    }

    /// Runs until `until` (or a stop), then hands its live blocks to the
    /// next worker or, returning them, to the supervisor.
    fn run(
        mut self,
        inbox: Receiver<Vec<Block>>,
        next: Sender<Vec<Block>>,
        until: Instant,
    ) -> Exit {
        while !STOP.load(Ordering::Relaxed) && Instant::now() < until {
            while let Ok(batch) = inbox.try_recv() {
                for block in batch {
                    self.receive(block);
                }
            }
            self.step();
            if self.rng.chance(1) {
                let count = self.rng.range(8, 64);
                self.send(&next, count);
            }
        }
        let blocks = if self.rng.chance(50) {
            let count = self.live.len();
            self.send(&next, count);
            Vec::new()
        } else {
            std::mem::take(&mut self.live)
        };
        Exit {
            inbox,
            blocks,
            tally: self.tally,
        }
    }
}

/// Runs the heap check and checks the statistics every [`CHECK_PAUSE`]
/// while the workers run (at least once); returns the number of rounds.
fn checker(end: Instant) -> u64 {
    let mut rounds = 0;
    loop {
        if let Err(error) = GLOBAL.heap_check() {
            panic!(
                "heap check during the run failed: {error}; DLM_STRESS_SEED={:#x}",
                seed_now()
            );
        }
        // The statistics' fields are read one after another (see
        // `Stats`): while other threads allocate, the footprint (read
        // apart) may differ from the mallinfo figures, but within those,
        // read under each heap's lock, in use plus free is the segments'
        // bytes plus the mapped chunks'. The footprint is compared exactly
        // after the run.
        let stats = GLOBAL.stats();
        assert_eq!(
            stats.in_use_bytes + stats.free_bytes,
            stats.arena_bytes + stats.mmapped_bytes,
            "statistics during the run do not add up: {stats:?}"
        );
        assert!(
            stats.free_bytes >= stats.top_bytes && stats.max_footprint >= stats.footprint,
            "statistics during the run are inconsistent: {stats:?}"
        );
        rounds += 1;
        if STOP.load(Ordering::Relaxed) || Instant::now() >= end {
            return rounds;
        }
        thread::sleep(CHECK_PAUSE);
    }
}

#[test]
fn arenas_under_cross_thread_stress() {
    let run = duration();
    let seed = run_seed();
    RUN_SEED.store(seed, Ordering::Relaxed);
    println!(
        "stress_arenas: {:.1} s, {SLOTS} workers, DLM_STRESS_SEED={seed:#x}",
        run.as_secs_f64()
    );

    // Warm-up: one thread and one channel, so std's one-time allocations
    // are made before the bytes in use are measured.
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    thread::spawn(move || tx.send(vec![1; 1000]).unwrap())
        .join()
        .unwrap();
    drop(rx.recv().unwrap());
    drop(rx);
    let before = GLOBAL.stats().in_use_bytes;

    let start = Instant::now();
    let end = start + run;
    let checker = thread::spawn(move || checker(end));
    let (senders, inboxes): (Vec<_>, Vec<_>) =
        (0..SLOTS).map(|_| mpsc::channel::<Vec<Block>>()).unzip();
    let mut supervisor = Worker::new(SUPERVISOR, Vec::new());
    let mut next_id = SUPERVISOR + 1;
    let mut spawned = 0u64;
    let mut spawn = |slot: usize, inbox: Receiver<Vec<Block>>, live: Vec<Block>, rng: &mut Rng| {
        let id = next_id;
        next_id += 1;
        spawned += 1;
        let next = senders[(slot + 1) % SLOTS].clone();
        // At least a few milliseconds, so a replacement spawned at the end of
        // the run still allocates from the arena it takes over.
        let now = Instant::now();
        let until = (now + pick_slice(rng, run)).min(end).max(now + MIN_SLICE);
        thread::spawn(move || Worker::new(id, live).run(inbox, next, until))
    };

    let mut running: Vec<Option<JoinHandle<Exit>>> = inboxes
        .into_iter()
        .enumerate()
        .map(|(slot, inbox)| Some(spawn(slot, inbox, Vec::new(), &mut supervisor.rng)))
        .collect();
    let mut idle: Vec<Receiver<Vec<Block>>> = Vec::new();
    let mut replaced = 0u64;
    let mut tally = Tally::default();
    let mut failure: Option<Box<dyn Any + Send>> = None;
    loop {
        let mut busy = false;
        for (slot, entry) in running.iter_mut().enumerate() {
            let Some(handle) = entry else {
                continue;
            };
            busy = true;
            if !handle.is_finished() {
                continue;
            }
            match entry.take().unwrap().join() {
                Ok(exit) => {
                    tally.add(&exit.tally);
                    // The exited worker's blocks: checked, half freed here,
                    // the others kept for the worker that replaces it.
                    for block in exit.blocks {
                        block.verify("block of an exited worker");
                        if supervisor.rng.chance(50) || supervisor.live.len() >= POOL_MAX {
                            supervisor.free(block);
                        } else {
                            supervisor.live.push(block);
                        }
                    }
                    // The first exit is always replaced, even past the end:
                    // under Valgrind, which runs one thread at a time, the
                    // supervisor may see no exit before the end, and the
                    // reuse of an exited worker's arena must still be tested.
                    if !STOP.load(Ordering::Relaxed) && (Instant::now() < end || replaced == 0) {
                        replaced += 1;
                        let kept = supervisor.live.len();
                        let live = supervisor.live.split_off(kept - kept.min(HANDOVER));
                        *entry = Some(spawn(slot, exit.inbox, live, &mut supervisor.rng));
                    } else {
                        idle.push(exit.inbox);
                    }
                }
                Err(payload) => {
                    STOP.store(true, Ordering::Relaxed);
                    failure.get_or_insert(payload);
                }
            }
        }
        if !busy {
            break;
        }
        if checker.is_finished() && Instant::now() < end {
            // The checker failed: no need to wait for the end of the run.
            STOP.store(true, Ordering::Relaxed);
        }
        thread::sleep(POLL);
    }
    STOP.store(true, Ordering::Relaxed);
    let checks = match checker.join() {
        Ok(rounds) => rounds,
        Err(payload) => {
            failure.get_or_insert(payload);
            0
        }
    };
    if let Some(payload) = failure {
        std::panic::resume_unwind(payload);
    }
    drop(senders);

    // Everything still held: blocks in flight and the supervisor's.
    for inbox in idle {
        for block in inbox.try_iter().flatten() {
            supervisor.free(block);
        }
    }
    for block in std::mem::take(&mut supervisor.live) {
        supervisor.free(block);
    }
    tally.add(&supervisor.tally);
    // The bookkeeping goes too, before the bytes in use are compared.
    drop((supervisor, running));
    let elapsed = start.elapsed();

    if let Err(error) = GLOBAL.heap_check() {
        panic!("heap check after the run failed: {error}; DLM_STRESS_SEED={seed:#x}");
    }
    let after = GLOBAL.stats();
    assert_eq!(
        after.in_use_bytes + after.free_bytes,
        after.footprint,
        "statistics after the run do not add up: {after:?}"
    );
    assert_eq!(
        after.arena_bytes + after.mmapped_bytes,
        after.footprint,
        "statistics after the run do not add up: {after:?}"
    );
    assert!(
        after.in_use_bytes <= before + ALLOWANCE,
        "{} bytes more in use after the run than before ({before} before, {after:?}); \
         DLM_STRESS_SEED={seed:#x}",
        after.in_use_bytes.saturating_sub(before)
    );
    assert_eq!(
        tally.frees, tally.allocs,
        "blocks allocated and freed differ: {tally:?}"
    );
    assert!(checks >= 1);
    if run >= Duration::from_millis(500) {
        assert!(
            spawned > SLOTS as u64,
            "no worker was replaced: {spawned} spawned"
        );
        assert!(
            tally.cross_frees > 0 && tally.cross_reallocs > 0 && tally.c_frees > 0,
            "too little cross-thread traffic: {tally:?}"
        );
    }

    println!(
        "stress_arenas: {:.1} s: {} operations ({} allocs, {} zeroed, {} reallocs, {} frees), \
         {} cross-thread frees, {} cross-thread reallocs, {} dlfree and {} dlrealloc calls, \
         {} blocks sent and {} received, {} threads spawned, {checks} heap checks; \
         in use {before} -> {} bytes",
        elapsed.as_secs_f64(),
        tally.allocs + tally.reallocs + tally.c_reallocs + tally.frees,
        tally.allocs,
        tally.zeroed,
        tally.reallocs,
        tally.frees,
        tally.cross_frees,
        tally.cross_reallocs,
        tally.c_frees,
        tally.c_reallocs,
        tally.sent,
        tally.received,
        spawned,
        after.in_use_bytes,
    );
}
