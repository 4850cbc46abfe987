//! A long multi-threaded stress over every kind of heap the crate offers,
//! through the safe API, for a duration read from the environment.
//!
//! Eight workers (more than the machine's cores) run mixed operations
//! (malloc, calloc, memalign, realloc, free) with sizes from one byte to
//! past the 256 KiB mmap threshold, on four heaps:
//! - the global heap ([`DLMalloc`], also this binary's global allocator, so
//!   the harness, the channels and the bookkeeping vectors use it too);
//! - a static [`MspaceAlloc`] (a locked mspace made on first use);
//! - one [`Mspace<Locked>`] (`create_mspace(0, 1)`) shared by every worker;
//! - an unlocked [`Mspace`] of each worker's own.
//!
//! Every block is filled with a pattern derived from its id, checked in
//! full before it is freed and, up to the kept length, after every realloc
//! (calloc blocks are checked for zeros first). Blocks of the three shared
//! heaps travel to the next worker through a bounded channel; the receiver
//! verifies them and frees them or keeps them for later reallocs (frees and
//! reallocs from a thread other than the allocating one). A checker thread
//! walks the shared heaps with the heap check, tests their statistics for
//! consistency and trims them while the workers run; each worker checks its
//! own heap exactly (heap check, statistics, and the count of in-use chunks
//! equal to its live blocks). At the end every mspace must hold no block.
//!
//! `DLMALLOC_STRESS_SECONDS` sets the duration (default 3, the short run of
//! `cargo test --workspace`). The long run:
//!
//! ```text
//! DLMALLOC_STRESS_SECONDS=60 cargo test --release -p dlmalloc-portable --test long_stress -- --nocapture
//! ```

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use allocator_api2::alloc::Allocator;
use dlmalloc::{DLMalloc, Locked, Locking, Mspace, MspaceAlloc, Stats, raw};
use dlmalloc_platform_std as _;
use dlmalloc_test_support::pattern::pattern_byte;
use dlmalloc_test_support::{Rng, all_zero, fill, first_mismatch};

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// A locked mspace behind the `GlobalAlloc` interface, shared by all workers.
static STATIC_HEAP: MspaceAlloc = MspaceAlloc::new(0);

const WORKERS: usize = 8;
/// Live blocks a worker keeps at most; it frees more than it allocates above
/// half of this.
const MAX_LIVE: usize = 400;
/// Operations between two exact checks of a worker's own heap.
const OWN_CHECK_EVERY: u64 = 1_000;
/// Blocks in flight between two neighbours at most.
const CHANNEL_DEPTH: usize = 64;
/// Pause of the checker between two rounds over the shared heaps.
const CHECKER_PAUSE: Duration = Duration::from_millis(20);
/// The core's default mmap threshold: requests from here on get a mapping
/// of their own.
const MMAP_THRESHOLD: usize = 256 << 10;

/// The run's duration: `DLMALLOC_STRESS_SECONDS`, 3 s when unset.
fn duration() -> Duration {
    let seconds = match std::env::var("DLMALLOC_STRESS_SECONDS") {
        Ok(text) => text.trim().parse::<f64>().unwrap_or_else(|_| {
            panic!("DLMALLOC_STRESS_SECONDS={text:?}: expected a number of seconds")
        }),
        Err(_) => 3.0,
    };
    Duration::from_secs_f64(seconds)
}

/// A request size: mostly small, with every size class represented, and a
/// few past the mmap threshold (some of them exactly at it).
fn pick_size(rng: &mut Rng) -> usize {
    match rng.below(1000) {
        0..=399 => 1 + rng.below(64),
        400..=699 => 64 + rng.below(960),
        700..=899 => 1024 + rng.below(63 << 10),
        900..=979 => (64 << 10) + rng.below(192 << 10),
        980..=984 => MMAP_THRESHOLD - 16 + rng.below(32),
        _ => MMAP_THRESHOLD + rng.below(768 << 10),
    }
}

/// An alignment above the default for memalign: 32 B to 64 KiB, and now and
/// then 1 MiB.
fn pick_align(rng: &mut Rng) -> usize {
    if rng.chance(2) {
        1 << 20
    } else {
        32 << rng.below(12)
    }
}

/// Which heap a block lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeapKind {
    /// The global heap, through `DLMalloc`'s `GlobalAlloc`.
    Global,
    /// `STATIC_HEAP`, through `MspaceAlloc`'s `GlobalAlloc`.
    Static,
    /// The shared `Mspace<Locked>`, through the `Allocator` trait.
    Shared,
    /// The worker's own unlocked `Mspace`, through the `Allocator` trait.
    Own,
}

const KINDS: [HeapKind; 4] = [
    HeapKind::Global,
    HeapKind::Static,
    HeapKind::Shared,
    HeapKind::Own,
];

/// A live block. The address is an integer so that blocks of the shared
/// heaps can travel between threads (those heaps are locked).
#[derive(Debug)]
struct Block {
    addr: usize,
    size: usize,
    align: usize,
    id: u64,
    heap: HeapKind,
}

impl Block {
    fn layout(&self) -> Layout {
        Layout::from_size_align(self.size, self.align).expect("a valid layout")
    }

    /// The block's bytes.
    ///
    /// # Safety
    ///
    /// The block must be live and used by this thread only; otherwise the
    /// behavior is undefined.
    unsafe fn bytes(&self) -> &[u8] {
        // SAFETY: a live block has `size` bytes at `addr`, and nothing else
        // uses them meanwhile (caller's contract).
        unsafe { std::slice::from_raw_parts(self.addr as *const u8, self.size) }
    }

    /// Writes the pattern over `from..size`.
    ///
    /// # Safety
    ///
    /// As for [`Block::bytes`].
    unsafe fn fill_from(&mut self, from: usize) {
        // SAFETY: a live block has `size` bytes at `addr`, and nothing else
        // uses them meanwhile (caller's contract).
        unsafe { fill(self.addr as *mut u8, from, self.size, self.id) };
    }

    /// Panics unless the first `len` bytes hold the pattern.
    ///
    /// # Safety
    ///
    /// As for [`Block::bytes`].
    unsafe fn verify(&self, len: usize, when: &str) {
        // SAFETY: the caller's contract is bytes'.
        let bytes = &unsafe { self.bytes() }[..len];
        // SAFETY: as above.
        if let Some(at) = unsafe { first_mismatch(bytes.as_ptr(), 0, len, self.id) } {
            panic!(
                "{when}: block {:#x} ({:?}, {} bytes at {:#x}) corrupted at offset {at}: \
                 {:#04x} instead of {:#04x}",
                self.id,
                self.heap,
                self.size,
                self.addr,
                bytes[at],
                pattern_byte(self.id, at)
            );
        }
    }
}

/// Operation counts of one worker (and their sum).
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    malloc: u64,
    calloc: u64,
    memalign: u64,
    realloc: u64,
    free: u64,
    sent: u64,
    received: u64,
    /// Received blocks that were reallocated or freed later, not at once.
    adopted: u64,
    own_checks: u64,
    per_heap_allocs: [u64; 4],
    bytes_allocated: u64,
    mmap_sized: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.malloc += other.malloc;
        self.calloc += other.calloc;
        self.memalign += other.memalign;
        self.realloc += other.realloc;
        self.free += other.free;
        self.sent += other.sent;
        self.received += other.received;
        self.adopted += other.adopted;
        self.own_checks += other.own_checks;
        for (sum, n) in self.per_heap_allocs.iter_mut().zip(other.per_heap_allocs) {
            *sum += n;
        }
        self.bytes_allocated += other.bytes_allocated;
        self.mmap_sized += other.mmap_sized;
    }

    fn operations(&self) -> u64 {
        self.malloc + self.calloc + self.memalign + self.realloc + self.free
    }
}

/// The heaps one worker reaches.
struct Heaps<'a> {
    shared: &'a Mspace<Locked>,
    own: &'a Mspace,
}

/// A block from an `Allocator`, or null.
fn allocate_in(heap: impl Allocator, layout: Layout, zeroed: bool) -> *mut u8 {
    let result = if zeroed {
        heap.allocate_zeroed(layout)
    } else {
        heap.allocate(layout)
    };
    result.map_or(std::ptr::null_mut(), |block| block.cast::<u8>().as_ptr())
}

/// Resizes a block of an `Allocator`; null on failure.
///
/// # Safety
///
/// `ptr` must be a live block of `heap` with layout `old`; otherwise the
/// behavior is undefined.
unsafe fn resize_in(heap: impl Allocator, ptr: *mut u8, old: Layout, new: Layout) -> *mut u8 {
    let ptr = NonNull::new(ptr).expect("a live block is not null");
    // SAFETY: `ptr` is a live block of `heap` with layout `old` (caller's
    // contract), and grow / shrink get a new size on the right side of it.
    let result = unsafe {
        if new.size() >= old.size() {
            heap.grow(ptr, old, new)
        } else {
            heap.shrink(ptr, old, new)
        }
    };
    result.map_or(std::ptr::null_mut(), |block| block.cast::<u8>().as_ptr())
}

impl Heaps<'_> {
    /// A fresh block of `layout` in `heap`, zeroed if asked; panics if the
    /// heap has no memory (this test stays far from any limit).
    fn alloc(&self, heap: HeapKind, layout: Layout, zeroed: bool) -> usize {
        let ptr = match heap {
            // SAFETY: every layout here has a non-zero size.
            HeapKind::Global if zeroed => unsafe { GLOBAL.alloc_zeroed(layout) },
            // SAFETY: as above.
            HeapKind::Global => unsafe { GLOBAL.alloc(layout) },
            // SAFETY: as above.
            HeapKind::Static if zeroed => unsafe { STATIC_HEAP.alloc_zeroed(layout) },
            // SAFETY: as above.
            HeapKind::Static => unsafe { STATIC_HEAP.alloc(layout) },
            HeapKind::Shared => allocate_in(self.shared, layout, zeroed),
            HeapKind::Own => allocate_in(self.own, layout, zeroed),
        };
        assert!(!ptr.is_null(), "{heap:?}: allocation of {layout:?} failed");
        assert_eq!(
            ptr.addr() % layout.align(),
            0,
            "{heap:?}: {layout:?} misaligned at {ptr:p}"
        );
        ptr.addr()
    }

    /// Resizes `block` to `new_size` bytes, keeping its alignment.
    ///
    /// # Safety
    ///
    /// `block` must be live in the heap it names, and not used by another
    /// thread; otherwise the behavior is undefined.
    unsafe fn realloc(&self, block: &mut Block, new_size: usize) {
        let old = block.layout();
        let new = Layout::from_size_align(new_size, block.align).expect("a valid layout");
        let ptr = block.addr as *mut u8;
        // SAFETY: `ptr` is a live block of that heap with layout `old`, and
        // `new_size` is non-zero (caller's contract and this test's sizes).
        let moved = unsafe {
            match block.heap {
                HeapKind::Global => GLOBAL.realloc(ptr, old, new_size),
                HeapKind::Static => STATIC_HEAP.realloc(ptr, old, new_size),
                HeapKind::Shared => resize_in(self.shared, ptr, old, new),
                HeapKind::Own => resize_in(self.own, ptr, old, new),
            }
        };
        assert!(
            !moved.is_null(),
            "{:?}: realloc of {old:?} to {new_size} failed",
            block.heap
        );
        assert_eq!(
            moved.addr() % block.align,
            0,
            "{:?}: realloc lost the alignment {}",
            block.heap,
            block.align
        );
        block.addr = moved.addr();
        block.size = new_size;
    }

    /// Frees `block`.
    ///
    /// # Safety
    ///
    /// As for [`Heaps::realloc`]; the block is not used again.
    unsafe fn free(&self, block: Block) {
        let layout = block.layout();
        let ptr = block.addr as *mut u8;
        // SAFETY: `ptr` is a live block of that heap with this layout
        // (caller's contract), freed once.
        unsafe {
            match block.heap {
                HeapKind::Global => GLOBAL.dealloc(ptr, layout),
                HeapKind::Static => STATIC_HEAP.dealloc(ptr, layout),
                HeapKind::Shared => self.shared.deallocate(NonNull::new_unchecked(ptr), layout),
                HeapKind::Own => self.own.deallocate(NonNull::new_unchecked(ptr), layout),
            }
        }
    }
}

/// Panics unless a snapshot of a heap's statistics is self-consistent.
/// Holds for a heap other threads are using: the mallinfo fields come from
/// one locked read, and the footprint is read before its maximum.
fn check_stats(name: &str, stats: &Stats) {
    assert_eq!(
        stats.in_use_bytes + stats.free_bytes,
        stats.arena_bytes + stats.mmapped_bytes,
        "{name}: in use + free differs from segments + mapped chunks\n{stats}"
    );
    assert!(
        stats.max_footprint >= stats.footprint,
        "{name}: footprint above its maximum\n{stats}"
    );
    assert!(
        stats.free_bytes >= stats.top_bytes,
        "{name}: top larger than all free bytes\n{stats}"
    );
    assert_eq!(
        stats.mmapped_chunks == 0,
        stats.mmapped_bytes == 0,
        "{name}: mapped chunk count and bytes disagree\n{stats}"
    );
    assert_eq!(stats.footprint_limit, None, "{name}: a limit appeared");
}

/// The number of in-use chunks of an mspace and the sum of their usable
/// bytes, as the core's heap walk reports them.
fn in_use_chunks(msp: raw::Mspace) -> (usize, usize) {
    /// Counts one chunk; never allocates (the heap lock may be held).
    unsafe extern "C" fn count(_: *mut c_void, _: *mut c_void, used: usize, arg: *mut c_void) {
        if used > 0 {
            // SAFETY: `arg` is the `(usize, usize)` below, alive during the
            // walk and used by nothing else.
            let totals = unsafe { &mut *arg.cast::<(usize, usize)>() };
            totals.0 += 1;
            totals.1 += used;
        }
    }
    let mut totals = (0usize, 0usize);
    // SAFETY: `msp` is a live mspace; `count` takes `&mut totals` as its
    // argument, and `totals` outlives the walk.
    unsafe { raw::mspace_inspect_all(msp, Some(count), (&raw mut totals).cast()) };
    totals
}

/// Exact checks of a heap that only the calling thread uses: the heap
/// check, consistent statistics, and exactly `live` in-use chunks whose
/// usable bytes cover the `live_bytes` requested.
fn check_quiet_mspace<L: Locking>(name: &str, heap: &Mspace<L>, live: usize, live_bytes: usize) {
    if let Err(error) = heap.heap_check() {
        panic!("{name}: {error}");
    }
    let stats = heap.stats();
    check_stats(name, &stats);
    assert_eq!(
        stats.in_use_bytes + stats.free_bytes,
        stats.footprint,
        "{name}: in use + free differs from the footprint\n{stats}"
    );
    assert!(
        stats.in_use_bytes >= live_bytes,
        "{name}: {live_bytes} bytes live but only {} in use\n{stats}",
        stats.in_use_bytes
    );
    let (chunks, usable) = in_use_chunks(heap.as_raw());
    assert_eq!(
        chunks, live,
        "{name}: the heap walk finds {chunks} in-use chunks for {live} live blocks"
    );
    assert!(
        usable >= live_bytes,
        "{name}: {usable} usable bytes in use for {live_bytes} bytes live"
    );
}

/// One worker's loop until `stop`, then its clean-up. Returns its counts.
fn worker(
    index: usize,
    shared: &Mspace<Locked>,
    to_next: SyncSender<Block>,
    from_previous: Receiver<Block>,
    stop: &AtomicBool,
) -> Counts {
    let _stop_all_on_panic = StopOnPanic(stop);
    let own = Mspace::new(0);
    let heaps = Heaps { shared, own: &own };
    let mut rng = Rng::new(0x5EED_0000 + index as u64);
    let mut live: Vec<Block> = Vec::with_capacity(MAX_LIVE + CHANNEL_DEPTH);
    let mut counts = Counts::default();
    let mut next_id = (index as u64) << 48;
    let mut ops = 0u64;

    while !stop.load(Ordering::Relaxed) {
        ops += 1;
        // Blocks from the previous worker: verify, then free or keep.
        while let Ok(block) = from_previous.try_recv() {
            counts.received += 1;
            // SAFETY: the block is live and now this thread's alone.
            unsafe { block.verify(block.size, "received from another thread") };
            if live.len() < MAX_LIVE && rng.chance(50) {
                counts.adopted += 1;
                live.push(block);
            } else {
                counts.free += 1;
                // SAFETY: as above; freed once.
                unsafe { heaps.free(block) };
            }
        }

        let grow = live.is_empty() || (live.len() < MAX_LIVE && rng.chance(55));
        if grow {
            let heap = KINDS[match rng.below(100) {
                0..=34 => 0,
                35..=49 => 1,
                50..=69 => 2,
                _ => 3,
            }];
            let size = pick_size(&mut rng);
            let choice = rng.below(100);
            let (align, zeroed) = if choice < 70 {
                counts.malloc += 1;
                (1 << rng.below(5), false)
            } else if choice < 85 {
                counts.calloc += 1;
                (1 << rng.below(5), true)
            } else {
                counts.memalign += 1;
                (pick_align(&mut rng), false)
            };
            let layout = Layout::from_size_align(size, align).expect("a valid layout");
            let addr = heaps.alloc(heap, layout, zeroed);
            next_id += 1;
            let mut block = Block {
                addr,
                size,
                align,
                id: next_id,
                heap,
            };
            if zeroed {
                // SAFETY: a fresh block, this thread's alone.
                let bytes = unsafe { block.bytes() };
                // SAFETY: the slice's bytes.
                let zero = unsafe { all_zero(bytes.as_ptr(), bytes.len()) };
                assert!(zero, "{heap:?}: zeroed block of {size} bytes is not zero");
            }
            // SAFETY: as above.
            unsafe { block.fill_from(0) };
            counts.per_heap_allocs[heap as usize] += 1;
            counts.bytes_allocated += size as u64;
            counts.mmap_sized += u64::from(size >= MMAP_THRESHOLD);
            live.push(block);
        } else {
            let at = rng.below(live.len());
            let action = rng.below(100);
            if action < 30 {
                // Resize: keep the prefix, fill the rest.
                let block = &mut live[at];
                let new_size = match rng.below(4) {
                    0 => (block.size / 2).max(1),
                    1 => block.size + 1 + rng.below(64),
                    2 => block.size * 2,
                    _ => pick_size(&mut rng),
                };
                let kept = block.size.min(new_size);
                // SAFETY: a live block of this thread's table.
                unsafe {
                    block.verify(block.size, "before realloc");
                    heaps.realloc(block, new_size);
                    block.verify(kept, "after realloc");
                    block.fill_from(kept);
                }
                counts.realloc += 1;
                counts.bytes_allocated += new_size as u64;
                counts.mmap_sized += u64::from(new_size >= MMAP_THRESHOLD);
            } else {
                let block = live.swap_remove(at);
                // SAFETY: a live block of this thread's table.
                unsafe { block.verify(block.size, "before free") };
                let hand_over = block.heap != HeapKind::Own && action < 55;
                if hand_over {
                    match to_next.try_send(block) {
                        Ok(()) => counts.sent += 1,
                        Err(TrySendError::Full(block) | TrySendError::Disconnected(block)) => {
                            counts.free += 1;
                            // SAFETY: the block came back unsent; freed once.
                            unsafe { heaps.free(block) };
                        }
                    }
                } else {
                    counts.free += 1;
                    // SAFETY: removed from the table, freed once.
                    unsafe { heaps.free(block) };
                }
            }
        }

        if ops % OWN_CHECK_EVERY == 0 {
            let own_live = live.iter().filter(|b| b.heap == HeapKind::Own);
            let (count, bytes) = own_live.fold((0, 0), |(n, sum), b| (n + 1, sum + b.size));
            check_quiet_mspace(&format!("worker {index}'s own heap"), &own, count, bytes);
            if rng.chance(20) {
                own.trim(rng.below(1 << 20));
            }
            counts.own_checks += 1;
        }
    }

    // Clean up: free what this worker holds, stop sending, then take what
    // is still in flight until the previous worker has stopped sending.
    for block in live.drain(..) {
        // SAFETY: live blocks of this thread's table, freed once each.
        unsafe {
            block.verify(block.size, "at the end");
            heaps.free(block);
        }
        counts.free += 1;
    }
    drop(to_next);
    for block in from_previous {
        counts.received += 1;
        // SAFETY: received blocks are live and this thread's alone.
        unsafe {
            block.verify(block.size, "received at the end");
            heaps.free(block);
        }
        counts.free += 1;
    }
    check_quiet_mspace(&format!("worker {index}'s own heap, emptied"), &own, 0, 0);
    counts
}

/// Sets the stop flag if the thread unwinds, so one failing thread ends
/// the run at once instead of after the whole duration.
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Checks the heaps the workers share, and trims them now and then, until
/// `stop`. Returns the number of rounds.
fn checker(shared: &Mspace<Locked>, stop: &AtomicBool) -> u64 {
    let _stop_all_on_panic = StopOnPanic(stop);
    let mut rounds = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if let Err(error) = GLOBAL.heap_check() {
            panic!("global heap: {error}");
        }
        if let Err(error) = STATIC_HEAP.heap_check() {
            panic!("static MspaceAlloc heap: {error}");
        }
        if let Err(error) = shared.heap_check() {
            panic!("shared locked mspace: {error}");
        }
        check_stats("global heap", &GLOBAL.stats());
        check_stats("static MspaceAlloc heap", &STATIC_HEAP.stats());
        check_stats("shared locked mspace", &shared.stats());
        if rounds % 10 == 9 {
            GLOBAL.trim(1 << 20);
            STATIC_HEAP.trim(0);
            shared.trim(0);
        }
        rounds += 1;
        thread::sleep(CHECKER_PAUSE);
    }
    rounds
}

#[test]
fn eight_workers_on_four_heaps_keep_every_block_intact() {
    let run_for = duration();
    let shared = Mspace::new_locked(0);
    // Create the static heap now so the end can check it is empty again.
    // SAFETY: the layout has a non-zero size; the block is freed at once.
    unsafe {
        let layout = Layout::new::<u64>();
        let block = STATIC_HEAP.alloc(layout);
        assert!(!block.is_null());
        STATIC_HEAP.dealloc(block, layout);
    }
    let stop = AtomicBool::new(false);

    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..WORKERS).map(|_| sync_channel(CHANNEL_DEPTH)).unzip();
    let started = Instant::now();
    let (per_worker, check_rounds) = thread::scope(|scope| {
        let (shared, stop) = (&shared, &stop);
        let mut receivers: Vec<Option<Receiver<Block>>> = receivers.into_iter().map(Some).collect();
        let workers: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(index, to_next)| {
                // Worker `index` sends into channel `index`, so it receives
                // from the channel of worker `index - 1`.
                let from_previous = receivers[(index + WORKERS - 1) % WORKERS]
                    .take()
                    .expect("one receiver each");
                scope.spawn(move || worker(index, shared, to_next, from_previous, stop))
            })
            .collect();
        let checker = scope.spawn(move || checker(shared, stop));

        while started.elapsed() < run_for && !stop.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        let per_worker: Vec<Counts> = workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        let rounds = checker
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (per_worker, rounds)
    });
    let elapsed = started.elapsed();

    // Every block is gone: the mspaces hold no in-use chunk, and all heaps
    // pass the check.
    check_quiet_mspace("shared locked mspace, emptied", &shared, 0, 0);
    let static_heap = STATIC_HEAP.raw_handle().expect("created above");
    assert_eq!(
        in_use_chunks(static_heap.as_ptr()).0,
        0,
        "static MspaceAlloc heap: blocks left in use"
    );
    if let Err(error) = STATIC_HEAP.heap_check() {
        panic!("static MspaceAlloc heap, emptied: {error}");
    }
    if let Err(error) = GLOBAL.heap_check() {
        panic!("global heap, at the end: {error}");
    }

    let mut total = Counts::default();
    for counts in &per_worker {
        total.add(counts);
    }
    eprintln!(
        "long_stress: {WORKERS} workers for {:.1} s: {} operations ({:.0}/s): \
         {} malloc, {} calloc, {} memalign, {} realloc, {} free; {} blocks handed to \
         another thread ({} received, {} kept for later reallocs/frees); allocations per \
         heap (global, static MspaceAlloc, shared locked, own unlocked) {:?}; {} MiB \
         requested, {} requests past the mmap threshold; {} own-heap checks, {} \
         shared-heap check rounds",
        elapsed.as_secs_f64(),
        total.operations(),
        total.operations() as f64 / elapsed.as_secs_f64(),
        total.malloc,
        total.calloc,
        total.memalign,
        total.realloc,
        total.free,
        total.sent,
        total.received,
        total.adopted,
        total.per_heap_allocs,
        total.bytes_allocated >> 20,
        total.mmap_sized,
        total.own_checks,
        check_rounds,
    );
    eprintln!("shared locked mspace at the end:\n{}", shared.stats());

    // The run really exercised what it claims to (the bookkeeping is
    // balanced, and no kind of operation was skipped).
    assert_eq!(
        total.malloc + total.calloc + total.memalign,
        total.free,
        "allocations and frees do not balance"
    );
    assert_eq!(total.sent, total.received, "blocks lost in the channels");
    for (name, n) in [
        ("malloc", total.malloc),
        ("calloc", total.calloc),
        ("memalign", total.memalign),
        ("realloc", total.realloc),
        ("cross-thread hand-overs", total.sent),
        ("kept received blocks", total.adopted),
        ("mmap-sized requests", total.mmap_sized),
        ("shared-heap check rounds", check_rounds),
    ] {
        assert!(n > 0, "the run made no {name}");
    }
    assert!(
        total.per_heap_allocs.iter().all(|&n| n > 0),
        "a heap got no allocation: {:?}",
        total.per_heap_allocs
    );
}

/// The content check catches one changed byte deep in a block, so the
/// stress test above can fail.
#[test]
#[should_panic(expected = "corrupted at offset 5000: 0x")]
fn the_content_check_catches_one_changed_byte() {
    let layout = Layout::from_size_align(10_000, 8).unwrap();
    // SAFETY: the layout has a non-zero size.
    let addr = unsafe { GLOBAL.alloc(layout) }.addr();
    assert_ne!(addr, 0);
    let mut block = Block {
        addr,
        size: layout.size(),
        align: layout.align(),
        id: 42,
        heap: HeapKind::Global,
    };
    // SAFETY: a live block of this thread; the block leaks when verify
    // panics, as intended.
    unsafe {
        block.fill_from(0);
        block.verify(block.size, "intact");
        let byte = (addr as *mut u8).add(5000);
        byte.write(!byte.read());
        block.verify(block.size, "changed");
    }
}
