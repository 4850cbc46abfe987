//! The allocator's fuzz driver: [`run`] decodes bytes into a program of
//! allocator operations (malloc, calloc, free, realloc, realloc_in_place,
//! memalign, posix_memalign, valloc, pvalloc, independent_comalloc,
//! independent_calloc, bulk_free, trim, mallopt, footprint limits, large-chunk
//! tracking, statistics) on the global heap and three mspaces (locked,
//! unlocked, and one inside a caller buffer that may not grow), checks every
//! result against a model, and runs the heap check after each operation.
//! Half of the global heap's mallocs and frees go through `DLMalloc`, so its
//! thread cache (on with the hosted platform's default features) is fuzzed
//! together with the C API on the same blocks; and "free elsewhere" hands
//! batches of 1 to 40 of its blocks to a helper thread that frees them
//! through `DLMalloc` (allocating and freeing a small block of its own now
//! and then), so blocks of the driver thread's arena leave a foreign cache
//! and reach their arena's remote-free list. [`run_with`] takes another
//! set of heaps, a larger live set or full patterns ([`Config`]): the
//! randomized model tests of the test suite are seeded calls of it.
//!
//! cargo-fuzz calls it from `testing/fuzz/fuzz_targets/heap_ops.rs`; the ordinary
//! test suite calls it on seeded inputs and on every saved crash input, so
//! each `cargo test` exercises it. The caller links a platform (e.g.
//! `use dlmalloc_platform_std as _;`). Any violation panics with a message
//! naming the operation and what went wrong.

mod elsewhere;
mod input;
mod model;
mod stats;

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use core::ptr::null_mut;

use dlmalloc::DLMalloc;

use dlmalloc_sys::*;
use dlmalloc_test_support::Heap;
use elsewhere::{Helper, Request};
pub use input::Input;
use model::{Block, Patterns, assert_aligned, assert_disjoint, verify_zeroed};

/// The thresholds restored at the end of each run, so runs do not leak
/// settings into each other.
const DEFAULT_TRIM_THRESHOLD: i32 = 2 << 20;
const DEFAULT_MMAP_THRESHOLD: i32 = 256 << 10;
/// The granularity of a build without `DEFAULT_MMAP_GRANULARITY`, as the
/// fuzz build is.
const DEFAULT_GRANULARITY: i32 = 2 << 20;
/// The page size `valloc` and `pvalloc` round to on the fuzzing hosts.
const PAGE: usize = 4096;
/// A heap without a footprint limit must serve every request up to this
/// size (alignment included): only the absurd sizes the input decodes, far
/// beyond it, may be refused.
const SANE_REQUEST: usize = 64 << 20;
/// A null block pointer, for arrays handed to the C API.
const NULL: *mut c_void = null_mut();

/// One heap a run spreads its operations over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeapKind {
    /// The process-wide heap: the `dl*` API, and `DLMalloc` for half of
    /// its mallocs and frees. `posix_memalign`, `valloc` and `pvalloc` go
    /// to it (they are skipped in a run without it).
    Global,
    /// `create_mspace(capacity, locked)`.
    Mspace {
        /// The initial capacity asked for (0: the default).
        capacity: usize,
        /// Whether the mspace has its own lock.
        locked: bool,
    },
    /// `create_mspace_with_base` over a caller buffer of `size` bytes.
    InBuffer {
        /// The buffer's size.
        size: usize,
        /// Whether the mspace has its own lock.
        locked: bool,
        /// Whether it may map memory beyond the buffer; if not, its
        /// footprint limit is its footprint and stays so.
        grows: bool,
    },
}

/// What a run exercises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The heaps, in the order the input picks them by index.
    pub heaps: Vec<HeapKind>,
    /// At most this many live blocks: bounds each run's memory and time.
    /// Past it, the oldest block is verified and freed.
    pub max_live: usize,
    /// Pattern and verify every byte of every block, not a sample of a
    /// large block's bytes.
    pub full_patterns: bool,
    /// How often the heap check and the statistics operation run. With 1
    /// (what the fuzzer runs), the heap check follows every operation on
    /// the heap it touched, and every statistics operation runs. With `n`
    /// above 1, the heap check runs on every heap after every `n`-th
    /// operation, and a statistics operation runs only there: a run with
    /// thousands of live blocks then costs seconds, not minutes.
    pub check_every: usize,
    /// Send half of the global heap's mallocs and frees through `DLMalloc`
    /// (its thread cache and arenas, with the hosted platform's default
    /// features), the other half and every other operation through the C
    /// API, on the same blocks; and have one of the two free operations,
    /// on the global heap, free a batch of its blocks on a helper thread
    /// instead ("free_elsewhere": `DLMalloc`'s frees from a thread that does
    /// not own the blocks' arena).
    pub through_dlmalloc: bool,
}

impl Default for Config {
    /// What cargo-fuzz runs: the global heap, a locked mspace, an unlocked
    /// one, and a locked one in a 256 KiB buffer that may not grow; 256
    /// live blocks at most; sampled patterns; checks after every operation.
    fn default() -> Self {
        Config {
            heaps: vec![
                HeapKind::Global,
                HeapKind::Mspace {
                    capacity: 0,
                    locked: true,
                },
                HeapKind::Mspace {
                    capacity: 1 << 20,
                    locked: false,
                },
                HeapKind::InBuffer {
                    size: 256 << 10,
                    locked: true,
                    grows: false,
                },
            ],
            max_live: 256,
            full_patterns: false,
            check_every: 1,
            through_dlmalloc: true,
        }
    }
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Operations decoded and executed.
    pub operations: usize,
    /// Allocation requests that returned null (legal: limits, absurd sizes).
    pub refused: usize,
    /// For each heap of the [`Config`], whether its largest footprint went
    /// past the one it was created with (for a heap in a buffer: past its
    /// buffer). Always false for the global heap.
    pub grew: Vec<bool>,
}

struct Run<'a> {
    config: &'a Config,
    heaps: Vec<Heap>,
    /// Index of the global heap, if the run has it.
    global: Option<usize>,
    /// Footprint each mspace had when created (0 for the global heap).
    created: Vec<usize>,
    /// Footprint limit each heap must respect (usize::MAX: none).
    limits: Vec<usize>,
    /// The limit each heap last reported when it was set.
    limit_settings: Vec<usize>,
    /// Whether each mspace serves large requests from its segments.
    tracking_large: Vec<bool>,
    live: Vec<Block>,
    patterns: Patterns,
    /// The pattern seed of the next block.
    next_seed: u64,
    /// The thread "free_elsewhere" frees on, started on its first use and
    /// joined by `finish`.
    helper: Option<Helper>,
    outcome: Outcome,
}

/// Executes the program encoded in `data` with the default [`Config`];
/// panics on the first result that contradicts the model or the heap check.
pub fn run(data: &[u8]) -> Outcome {
    run_with(&Config::default(), data)
}

/// Executes the program encoded in `data` on the heaps of `config`; panics
/// on the first result that contradicts the model or the heap check.
pub fn run_with(config: &Config, data: &[u8]) -> Outcome {
    let mut buffers: Vec<Vec<u8>> = Vec::new();
    let mut heaps = Vec::new();
    let mut limits = Vec::new();
    for &kind in &config.heaps {
        // SAFETY: creating heaps has no preconditions; a buffer outlives the
        // mspace built in it (destroyed by `finish`, before `buffers` is
        // dropped), and the heap is used by this thread only.
        let (heap, limit) = unsafe {
            match kind {
                HeapKind::Global => (Heap::GLOBAL, usize::MAX),
                HeapKind::Mspace { capacity, locked } => {
                    let msp = create_mspace(capacity, locked.into());
                    assert!(!msp.is_null(), "create_mspace({capacity}) failed");
                    (Heap::mspace(msp), usize::MAX)
                }
                HeapKind::InBuffer {
                    size,
                    locked,
                    grows,
                } => {
                    let mut buffer = vec![0u8; size];
                    let msp =
                        create_mspace_with_base(buffer.as_mut_ptr().cast(), size, locked.into());
                    assert!(!msp.is_null(), "create_mspace_with_base({size}) failed");
                    buffers.push(buffer);
                    let heap = Heap::mspace(msp);
                    if grows {
                        (heap, usize::MAX)
                    } else {
                        heap.set_footprint_limit(heap.footprint());
                        (heap, heap.footprint())
                    }
                }
            }
        };
        heaps.push(heap);
        limits.push(limit);
    }
    let created = heaps
        .iter()
        .map(|h| if h.is_global() { 0 } else { h.footprint() })
        .collect();
    let mut run = Run {
        config,
        global: heaps.iter().position(|h| h.is_global()),
        limit_settings: heaps.iter().map(|h| h.footprint_limit()).collect(),
        tracking_large: vec![false; heaps.len()],
        heaps,
        created,
        limits,
        live: Vec::new(),
        patterns: Patterns {
            full: config.full_patterns,
        },
        next_seed: 0,
        helper: None,
        outcome: Outcome::default(),
    };
    let mut input = Input::new(data);
    while !input.is_empty() {
        run.step(&mut input);
        run.outcome.operations += 1;
    }
    run.finish();
    drop(buffers);
    run.outcome
}

/// For an operation on the global heap, decides from the input whether it
/// goes through `DLMalloc` (and so through the hosted platform's thread
/// cache, when the run links it) instead of the raw C API; returns the
/// layout to use. Sizes a `Layout` cannot describe stay on the C API.
fn thread_cached(
    config: &Config,
    heap: Heap,
    size: usize,
    input: &mut Input<'_>,
) -> Option<Layout> {
    if !config.through_dlmalloc || !heap.is_global() || size == 0 || input.below(2) == 0 {
        return None;
    }
    Layout::from_size_align(size, 1 + input.below(2) * 15).ok()
}

/// The `chunks` argument of an independent_* call for `n` blocks, chosen by
/// the input: the caller's array `out` (made `n` entries long), or null for
/// an array the heap allocates too.
fn chunks_array(input: &mut Input<'_>, out: &mut Vec<*mut c_void>, n: usize) -> *mut *mut c_void {
    if input.below(2) == 0 {
        out.resize(n, NULL);
        out.as_mut_ptr()
    } else {
        null_mut()
    }
}

impl Run<'_> {
    fn step(&mut self, input: &mut Input<'_>) {
        let h = input.below(self.heaps.len());
        let heap = self.heaps[h];
        let op = input.below(17);
        // One of the two free slots frees on another thread, where it can.
        let elsewhere = op == 12 && self.config.through_dlmalloc && heap.is_global();
        let name = if elsewhere {
            "free_elsewhere"
        } else {
            [
                "malloc",
                "calloc",
                "free",
                "realloc",
                "realloc_in_place",
                "memalign",
                "posix_memalign",
                "comalloc",
                "bulk_free",
                "trim",
                "mallopt",
                "footprint_limit",
                "free",
                "independent_calloc",
                "valloc",
                "track_large_chunks",
                "statistics",
            ][op]
        };
        // SAFETY: every pointer handed to the heap below is a live block of
        // that heap taken from the model, or fresh from the heap itself.
        unsafe {
            match op {
                0 => {
                    let size = input.size();
                    let p = match thread_cached(self.config, heap, size, input) {
                        Some(layout) => DLMalloc.alloc(layout),
                        None => heap.malloc(size),
                    };
                    self.adopt(h, p, size, 1, false, name);
                }
                1 if input.below(16) == 0 => {
                    let p = heap.calloc(usize::MAX / 2 + 1, 2 + input.below(8));
                    assert!(
                        p.is_null(),
                        "calloc with an overflowing product returned {p:p}"
                    );
                }
                1 => {
                    let (count, elem) = (input.below(64), input.size() % 4096);
                    let p = heap.calloc(count, elem);
                    self.adopt(h, p, count * elem, 1, true, name);
                }
                12 if elsewhere => self.free_elsewhere(input, h),
                2 | 12 => self.free_one(input),
                3 => self.realloc(input, false),
                4 => self.realloc(input, true),
                5 => {
                    let align = 1usize << input.below(21);
                    let size = input.size();
                    let p = heap.memalign(align, size);
                    self.adopt(h, p, size, align, false, name);
                }
                6 => self.posix_memalign(input),
                7 => self.comalloc(input, h),
                8 => self.bulk_free(input, h),
                9 => self.trim(input, h),
                10 => Self::mallopt(input),
                11 => self.footprint_limit(input, h),
                13 => self.independent_calloc(input, h),
                14 => self.valloc(input),
                15 => self.track_large_chunks(input, h),
                16 if self.checking() => self.check_stats(h),
                16 => {}
                _ => unreachable!(),
            }
        }
        for (i, heap) in self.heaps.iter().enumerate() {
            let footprint = heap.footprint();
            assert!(
                footprint <= self.limits[i],
                "after {name}: heap {i} footprint {footprint} above its limit {}",
                self.limits[i]
            );
        }
        if self.config.check_every <= 1 {
            heap.assert_ok(&format!("after {name} on heap {h}"));
        } else if self.checking() {
            for (i, heap) in self.heaps.iter().enumerate() {
                heap.assert_ok(&format!("after {name}, heap {i}"));
            }
        }
    }

    /// Whether this operation is one the heap check and the statistics
    /// follow (see [`Config::check_every`]).
    fn checking(&self) -> bool {
        self.outcome.operations % self.config.check_every.max(1) == 0
    }

    /// Panics unless heap `h` may refuse a request of `bytes`: only under a
    /// footprint limit, or for a size no heap could serve.
    fn assert_may_refuse(&self, h: usize, bytes: usize, what: &str) {
        assert!(
            self.limits[h] != usize::MAX || bytes > SANE_REQUEST,
            "{what}: heap {h} ({:?}) refused {bytes} bytes without a footprint limit",
            self.config.heaps[h]
        );
    }

    /// Records a fresh block after checking it, or counts a refusal.
    ///
    /// # Safety
    ///
    /// `p` must be null or a fresh block of heap `heap` of at least `size`
    /// bytes, if the allocator is right (which is what is checked).
    unsafe fn adopt(
        &mut self,
        heap: usize,
        p: *mut u8,
        size: usize,
        align: usize,
        zeroed: bool,
        what: &str,
    ) {
        if p.is_null() {
            self.assert_may_refuse(heap, size.saturating_add(align), what);
            self.outcome.refused += 1;
            return;
        }
        assert_aligned(p, align.max(2 * core::mem::size_of::<usize>()), what);
        // SAFETY: p is a live block of at least `size` bytes if the allocator
        // is right, which is what is being checked.
        unsafe {
            let usable = self.heaps[heap].usable_size(p);
            assert!(
                usable >= size,
                "{what}: usable size {usable} below the {size} requested"
            );
            if zeroed {
                verify_zeroed(p, size, what);
            }
            assert_disjoint(&self.live, p, size, None);
            self.next_seed += 1;
            let seed = self.next_seed;
            self.patterns.fill(p, size, seed);
            if self.live.len() >= self.config.max_live {
                let old = self.live.swap_remove(0);
                self.patterns
                    .verify(old.ptr, old.size, old.size, old.seed, "evicted block");
                self.heaps[old.heap].free(old.ptr);
            }
            self.live.push(Block {
                heap,
                ptr: p,
                size,
                seed,
            });
        }
    }

    unsafe fn free_one(&mut self, input: &mut Input<'_>) {
        if self.live.is_empty() {
            return;
        }
        let b = self.live.swap_remove(input.below(self.live.len()));
        let heap = self.heaps[b.heap];
        // SAFETY: b is live in its heap; a block of the global heap may go
        // through DLMalloc with any layout of its requested size (the cache
        // sorts it by that size, and its chunk is at least that large).
        unsafe {
            self.patterns
                .verify(b.ptr, b.size, b.size, b.seed, "block before free");
            match thread_cached(self.config, heap, b.size, input) {
                Some(layout) => DLMalloc.dealloc(b.ptr, layout),
                None => heap.free(b.ptr),
            }
        }
    }

    /// Frees live blocks of the global heap `h` on the helper thread (1 to
    /// 4, or in one case of eight 1 to 40, chosen by the input and freed in
    /// the input's order): through `DLMalloc` with a layout of their
    /// requested size (a block of size 0, or one a `Layout` cannot
    /// describe, through `dlfree`). Sometimes the helper also allocates and
    /// frees a small block of its own among them, which must not overlap a
    /// block live at that time.
    fn free_elsewhere(&mut self, input: &mut Input<'_>, h: usize) {
        // Mostly a few blocks: runs that mostly allocate keep large live
        // sets, as they did when this slot freed one block.
        let wanted = match input.below(8) {
            0 => 1 + input.below(40),
            _ => 1 + input.below(4),
        };
        let mut candidates: Vec<usize> = (0..self.live.len())
            .filter(|&i| self.live[i].heap == h)
            .collect();
        let mut chosen = Vec::new();
        while chosen.len() < wanted && !candidates.is_empty() {
            chosen.push(candidates.swap_remove(input.below(candidates.len())));
        }
        if chosen.is_empty() {
            return;
        }
        let blocks: Vec<Block> = chosen.iter().map(|&i| self.live[i]).collect();
        // Descending, so each swap_remove moves a block that stays.
        chosen.sort_unstable_by(|a, b| b.cmp(a));
        for i in chosen {
            self.live.swap_remove(i);
        }
        let mut frees = Vec::with_capacity(blocks.len());
        for b in &blocks {
            // SAFETY: b was live until just now, and is not freed yet.
            unsafe {
                self.patterns
                    .verify(b.ptr, b.size, b.size, b.seed, "block before free_elsewhere")
            };
            let layout = match b.size {
                0 => None,
                size => Layout::from_size_align(size, 1 + input.below(2) * 15).ok(),
            };
            frees.push((b.ptr, layout));
        }
        let churn = (input.below(8) == 0).then(|| {
            let size = 1 + input.below(256);
            let layout =
                Layout::from_size_align(size, 1 + input.below(2) * 15).expect("a small layout");
            (input.below(blocks.len() + 1), layout)
        });
        let helper = self.helper.get_or_insert_with(Helper::start);
        // SAFETY: the blocks were live blocks of the global heap, which the
        // model no longer holds; DLMalloc may free any of them with a layout
        // of its requested size (see `free_one`).
        let churned = unsafe { helper.free(Request { frees, churn }) };
        if let (Some(at), Some((before, layout))) = (churned, churn) {
            if at == 0 {
                self.assert_may_refuse(h, layout.size(), "free_elsewhere's own malloc");
                self.outcome.refused += 1;
            } else {
                let p = at as *mut u8;
                let what = "free_elsewhere's own malloc";
                assert_aligned(
                    p,
                    layout.align().max(2 * core::mem::size_of::<usize>()),
                    what,
                );
                // Live then: the blocks live now, and those of the batch
                // freed after it.
                assert_disjoint(&self.live, p, layout.size(), None);
                assert_disjoint(&blocks[before..], p, layout.size(), None);
            }
        }
    }

    unsafe fn realloc(&mut self, input: &mut Input<'_>, in_place: bool) {
        if self.live.is_empty() {
            return;
        }
        let i = input.below(self.live.len());
        let b = self.live[i];
        // Sizes near the old one reach the in-place paths (shrink, grow into
        // the next chunk or the top, resize a direct mapping); 0 frees.
        let size = match input.below(4) {
            0 => b.size.saturating_sub(usize::from(input.u16())),
            1 => b.size.saturating_add(usize::from(input.u16())),
            _ => input.size(),
        };
        let heap = self.heaps[b.heap];
        // SAFETY: b is live in its heap.
        unsafe {
            let p = if in_place {
                heap.realloc_in_place(b.ptr, size)
            } else {
                heap.realloc(b.ptr, size)
            };
            if size == 0 && !in_place {
                // realloc(p, 0) frees the block and returns null.
                assert!(p.is_null(), "realloc(p, 0) returned {p:p}");
                self.live.swap_remove(i);
                return;
            }
            if p.is_null() {
                // In place, failing to grow is a normal answer.
                if !in_place {
                    self.assert_may_refuse(b.heap, size, "realloc");
                }
                self.outcome.refused += 1;
                self.patterns.verify(
                    b.ptr,
                    b.size,
                    b.size,
                    b.seed,
                    "block after a refused realloc",
                );
                return;
            }
            if in_place {
                assert_eq!(p, b.ptr, "realloc_in_place moved the block");
            }
            let kept = b.size.min(size);
            self.patterns
                .verify(p, b.size, kept, b.seed, "realloc kept prefix");
            assert!(
                heap.usable_size(p) >= size,
                "realloc: usable size below {size}"
            );
            assert_disjoint(&self.live, p, size, Some(i));
            self.patterns.fill(p, size, b.seed);
            self.live[i] = Block { ptr: p, size, ..b };
        }
    }

    unsafe fn posix_memalign(&mut self, input: &mut Input<'_>) {
        let Some(global) = self.global else {
            return;
        };
        let align = match input.below(8) {
            0 => 0,
            1 => 3,
            2 => 24,
            _ => core::mem::size_of::<usize>() << input.below(18),
        };
        let size = input.size();
        let mut p: *mut c_void = NULL;
        // SAFETY: p is a valid out-pointer.
        let rc = unsafe { dlposix_memalign(&mut p, align, size) };
        let valid =
            align != 0 && align.is_power_of_two() && align % core::mem::size_of::<usize>() == 0;
        if !valid {
            assert_eq!(
                rc, EINVAL,
                "posix_memalign({align}) must refuse the alignment"
            );
            assert!(p.is_null(), "posix_memalign wrote *pp on failure");
            return;
        }
        if rc == 0 {
            // SAFETY: p is a fresh block of the global heap.
            unsafe { self.adopt(global, p.cast(), size, align, false, "posix_memalign") };
        } else {
            assert_eq!(rc, ENOMEM, "posix_memalign: unexpected error {rc}");
            assert!(p.is_null(), "posix_memalign wrote *pp on failure");
            self.assert_may_refuse(global, size.saturating_add(align), "posix_memalign");
            self.outcome.refused += 1;
        }
    }

    unsafe fn comalloc(&mut self, input: &mut Input<'_>, h: usize) {
        let n = input.below(7);
        let sizes: Vec<usize> = (0..n).map(|_| usize::from(input.u16()) % 2048).collect();
        let mut out = Vec::new();
        let chunks = chunks_array(input, &mut out, n);
        // SAFETY: `chunks` is null or holds n pointers.
        unsafe {
            let array = self.heaps[h].independent_comalloc(&sizes, chunks);
            self.adopt_independent(h, array, chunks, &sizes, false, "independent_comalloc");
        }
    }

    unsafe fn independent_calloc(&mut self, input: &mut Input<'_>, h: usize) {
        let n = input.below(9);
        let elem_size = match input.below(16) {
            0 => usize::MAX / 2 + usize::from(input.byte()),
            _ => usize::from(input.u16()) % 1024,
        };
        let mut out = Vec::new();
        let chunks = chunks_array(input, &mut out, n);
        // SAFETY: `chunks` is null or holds n pointers.
        unsafe {
            let array = self.heaps[h].independent_calloc(n, elem_size, chunks);
            if elem_size > usize::MAX / 4 && n > 0 {
                assert!(
                    array.is_null(),
                    "independent_calloc of {n} x {elem_size} succeeded"
                );
                return;
            }
            let sizes = vec![elem_size; n];
            self.adopt_independent(h, array, chunks, &sizes, true, "independent_calloc");
        }
    }

    /// Checks and records what an independent_* call returned: `array` (its
    /// result) must be `chunks` when the caller gave one; otherwise it is a
    /// block of the heap itself, adopted after its entries are read.
    ///
    /// # Safety
    ///
    /// `array` is what the call returned for `sizes` and `chunks`.
    unsafe fn adopt_independent(
        &mut self,
        h: usize,
        array: *mut *mut c_void,
        chunks: *mut *mut c_void,
        sizes: &[usize],
        zeroed: bool,
        what: &str,
    ) {
        if array.is_null() {
            let bytes = sizes.iter().sum::<usize>() + core::mem::size_of_val(sizes);
            self.assert_may_refuse(h, bytes, what);
            self.outcome.refused += 1;
            return;
        }
        if !chunks.is_null() {
            assert_eq!(
                array, chunks,
                "{what}: returned another array than the one given"
            );
        }
        // SAFETY: the array holds one pointer per size; each is a fresh block
        // of at least that size in heap h, if the allocator is right.
        unsafe {
            let blocks: Vec<*mut u8> = (0..sizes.len()).map(|i| (*array.add(i)).cast()).collect();
            for (&p, &size) in blocks.iter().zip(sizes) {
                assert!(!p.is_null(), "{what}: a null entry in a successful result");
                self.adopt(h, p, size, 1, zeroed, what);
            }
            if chunks.is_null() {
                let bytes = core::mem::size_of_val(sizes);
                self.adopt(h, array.cast(), bytes, 1, false, what);
            }
        }
    }

    unsafe fn valloc(&mut self, input: &mut Input<'_>) {
        let Some(global) = self.global else {
            return;
        };
        let size = input.size();
        let rounded = size.checked_next_multiple_of(PAGE);
        // SAFETY: any size is accepted.
        unsafe {
            if input.below(2) == 0 {
                self.adopt(global, dlvalloc(size).cast(), size, PAGE, false, "valloc");
            } else {
                let p = dlpvalloc(size).cast::<u8>();
                if !p.is_null() {
                    let rounded = rounded.expect("pvalloc succeeded on a size it cannot round");
                    let usable = dlmalloc_usable_size(p.cast());
                    assert!(
                        usable >= rounded,
                        "pvalloc({size}): usable {usable} below {rounded}"
                    );
                }
                self.adopt(global, p, size, PAGE, false, "pvalloc");
            }
        }
    }

    fn trim(&mut self, input: &mut Input<'_>, h: usize) {
        let pad = match input.below(8) {
            0 => 0,
            1 => usize::MAX - usize::from(input.byte()),
            2 => usize::MAX / 2,
            _ => usize::from(input.u16()) << 4,
        };
        let heap = self.heaps[h];
        let before = heap.footprint();
        let released = heap.trim(pad);
        // Only the mspaces are private to this run: other threads may grow
        // the global heap meanwhile.
        if !heap.is_global() {
            let after = heap.footprint();
            if released {
                assert!(
                    after < before,
                    "trim({pad}) reported a release but footprint {before} -> {after}"
                );
            } else {
                assert_eq!(
                    after, before,
                    "trim({pad}) released nothing but the footprint moved"
                );
            }
        }
    }

    fn track_large_chunks(&mut self, input: &mut Input<'_>, h: usize) {
        let Some(m) = self.heaps[h].as_mspace() else {
            return;
        };
        let enable = input.below(2) == 1;
        // SAFETY: the mspace is live.
        let was = unsafe { mspace_track_large_chunks(m, i32::from(enable)) };
        assert_eq!(
            was != 0,
            self.tracking_large[h],
            "track_large_chunks reported the wrong previous setting"
        );
        self.tracking_large[h] = enable;
    }

    fn check_stats(&self, h: usize) {
        let heap = self.heaps[h];
        if heap.is_global() {
            // Cached blocks count as in use until the caches are emptied;
            // emptying them here exercises the flush.
            DLMalloc.flush_thread_caches();
        }
        let blocks: Vec<Block> = self.live.iter().filter(|b| b.heap == h).copied().collect();
        let live: usize = blocks
            .iter()
            // SAFETY: every block of the model is live in heap h.
            .map(|b| unsafe { heap.usable_size(b.ptr) })
            .sum();
        stats::assert_consistent(heap, live);
        // SAFETY: the blocks are live in heap h; only the global heap is
        // shared with anyone else.
        unsafe { stats::assert_inspect_agrees(heap, &blocks, !heap.is_global()) };
        if !heap.is_global() {
            stats::assert_private(heap, self.limit_settings[h]);
        }
    }

    unsafe fn bulk_free(&mut self, input: &mut Input<'_>, h: usize) {
        let mut batch = Vec::new();
        let wanted = input.below(9);
        let mut i = 0;
        while i < self.live.len() && batch.len() < wanted {
            if self.live[i].heap == h {
                let b = self.live.swap_remove(i);
                // SAFETY: b is live.
                unsafe {
                    self.patterns
                        .verify(b.ptr, b.size, b.size, b.seed, "block before bulk_free")
                };
                batch.push(b.ptr.cast::<c_void>());
                if input.below(4) == 0 {
                    batch.push(NULL);
                }
            } else {
                i += 1;
            }
        }
        // SAFETY: every entry is a live block of heap h or null.
        let unfreed = unsafe { self.heaps[h].bulk_free(&mut batch) };
        assert_eq!(unfreed, 0, "bulk_free left blocks unfreed");
        assert!(
            batch.iter().all(|p| p.is_null()),
            "bulk_free left entries set"
        );
    }

    fn mallopt(input: &mut Input<'_>) {
        let values = [-1, 0, 4096, 64 << 10, 256 << 10, 1 << 20, 8 << 20];
        let granularities = [
            4096,
            64 << 10,
            1 << 20,
            2 << 20,
            4 << 20,
            3,
            1000,
            -5,
            -1,
            0,
        ];
        let (param, value) = match input.below(4) {
            0 => (M_TRIM_THRESHOLD, values[input.below(values.len())]),
            1 => (M_MMAP_THRESHOLD, values[input.below(values.len())]),
            // Restored by `finish`, so no run sees another's granularity.
            2 => (
                M_GRANULARITY,
                granularities[input.below(granularities.len())],
            ),
            _ => (12345, 1),
        };
        let expected = match param {
            M_TRIM_THRESHOLD | M_MMAP_THRESHOLD => 1,
            M_GRANULARITY => i32::from(value >= 4096 && (value & (value - 1)) == 0),
            _ => 0,
        };
        // SAFETY: any parameter and value are accepted.
        let ok = unsafe {
            if input.below(2) == 0 {
                dlmallopt(param, value)
            } else {
                mspace_mallopt(param, value)
            }
        };
        assert_eq!(ok, expected, "mallopt({param}, {value})");
    }

    fn footprint_limit(&mut self, input: &mut Input<'_>, h: usize) {
        if let HeapKind::InBuffer { grows: false, .. } = self.config.heaps[h] {
            return; // it keeps its no-growth limit
        }
        let heap = self.heaps[h];
        let footprint = heap.footprint();
        let asked = match input.below(3) {
            0 => usize::MAX,
            1 => footprint,
            _ => footprint + (usize::from(input.u16()) << 8),
        };
        let limit = heap.set_footprint_limit(asked);
        self.limit_settings[h] = limit;
        assert!(
            asked == usize::MAX || limit >= asked,
            "limit {limit} below the {asked} asked"
        );
        // A limit below the footprint stops growth; it does not shrink.
        self.limits[h] = limit.max(footprint);
    }

    /// Frees every block, restores process-wide settings, destroys the
    /// mspaces: each must hold no block any more and give back all it
    /// mapped.
    fn finish(&mut self) {
        // The helper thread's exit gives its cache back, before the checks.
        self.helper = None;
        // SAFETY: every block is live in its heap; the mspaces are live and
        // no block of theirs survives their destruction.
        unsafe {
            for b in self.live.drain(..) {
                self.patterns
                    .verify(b.ptr, b.size, b.size, b.seed, "block at the end");
                self.heaps[b.heap].free(b.ptr);
            }
            for heap in &self.heaps {
                heap.assert_ok("after freeing everything");
            }
            dlmalloc_set_footprint_limit(usize::MAX);
            dlmallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD);
            dlmallopt(M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD);
            dlmallopt(M_GRANULARITY, DEFAULT_GRANULARITY);
            for (h, heap) in self.heaps.iter().enumerate() {
                let Some(m) = heap.as_mspace() else {
                    self.outcome.grew.push(false);
                    continue;
                };
                assert!(
                    heap.ranges().iter().all(|&(_, _, used)| used == 0),
                    "heap {h}: blocks left in use after freeing everything"
                );
                self.outcome
                    .grew
                    .push(heap.max_footprint() > self.created[h]);
                // A heap in a buffer keeps the buffer's share of its
                // footprint: the caller's memory.
                let own = match self.config.heaps[h] {
                    HeapKind::InBuffer { .. } => self.created[h],
                    _ => 0,
                };
                let footprint = heap.footprint();
                let released = destroy_mspace(m);
                assert_eq!(released, footprint - own, "heap {h}: destroy_mspace");
            }
        }
    }
}
