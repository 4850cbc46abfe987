//! The allocator's fuzz driver: [`run`] decodes bytes into a program of
//! allocator operations (malloc, calloc, free, realloc, realloc_in_place,
//! memalign, posix_memalign, independent_comalloc, bulk_free, trim, mallopt,
//! footprint limits) on the global heap and three mspaces (locked, unlocked,
//! and one inside a caller buffer that may not grow), checks every result
//! against a model, and runs the heap check after each operation.
//!
//! cargo-fuzz calls it from `fuzz/fuzz_targets/heap_ops.rs`; the ordinary
//! test suite calls it on seeded inputs and on every saved crash input, so
//! each `cargo test` exercises it. The caller links a platform (e.g.
//! `use dlmalloc_platform_std as _;`). Any violation panics with a message
//! naming the operation and what went wrong.

mod heaps;
mod input;
mod model;

use core::ffi::c_void;

use dlmalloc_sys::*;
use heaps::{Heap, NULL};
use input::Input;
use model::{Block, assert_aligned, assert_disjoint, fill, verify, verify_zeroed};

/// At most this many live blocks: bounds each run's memory and time.
const MAX_LIVE: usize = 256;
/// Size of the caller buffer the fixed mspace lives in.
const REGION_SIZE: usize = 256 << 10;
/// The thresholds restored at the end of each run, so runs do not leak
/// settings into each other.
const DEFAULT_TRIM_THRESHOLD: i32 = 2 << 20;
const DEFAULT_MMAP_THRESHOLD: i32 = 256 << 10;

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Operations decoded and executed.
    pub operations: usize,
    /// Allocation requests that returned null (legal: limits, absurd sizes).
    pub refused: usize,
}

struct Run {
    heaps: [Heap; 4],
    /// Footprint limit each heap must respect (usize::MAX: none).
    limits: [usize; 4],
    live: Vec<Block>,
    outcome: Outcome,
}

/// Executes the program encoded in `data`; panics on the first result that
/// contradicts the model or the heap check.
pub fn run(data: &[u8]) -> Outcome {
    let mut region = vec![0u8; REGION_SIZE];
    // SAFETY: creating heaps has no preconditions; the region outlives the
    // mspace built in it (destroyed below, before `region` is dropped).
    let heaps = unsafe {
        let locked = create_mspace(0, 1);
        let unlocked = create_mspace(1 << 20, 0);
        let fixed = create_mspace_with_base(region.as_mut_ptr().cast(), REGION_SIZE, 1);
        assert!(
            !locked.is_null() && !unlocked.is_null() && !fixed.is_null(),
            "create_mspace failed"
        );
        mspace_set_footprint_limit(fixed, mspace_footprint(fixed));
        [
            Heap::Global,
            Heap::Space(locked),
            Heap::Space(unlocked),
            Heap::Space(fixed),
        ]
    };
    let mut run = Run {
        heaps,
        limits: [usize::MAX; 4],
        live: Vec::new(),
        outcome: Outcome::default(),
    };
    // SAFETY: the fixed heap's limit was just set to its footprint.
    run.limits[3] = unsafe { heaps[3].footprint() };
    let mut input = Input::new(data);
    while !input.is_empty() {
        run.step(&mut input);
        run.outcome.operations += 1;
    }
    run.finish();
    drop(region);
    run.outcome
}

impl Run {
    fn step(&mut self, input: &mut Input<'_>) {
        let h = input.below(4);
        let heap = self.heaps[h];
        let op = input.below(13);
        let name = [
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
        ][op];
        // SAFETY: every pointer handed to the heap below is a live block of
        // that heap taken from the model, or fresh from the heap itself.
        unsafe {
            match op {
                0 => {
                    let size = input.size();
                    let p = heap.malloc(size);
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
                9 => heap.trim(usize::from(input.u16()) << 4),
                10 => Self::mallopt(input),
                11 => self.footprint_limit(input, h),
                _ => unreachable!(),
            }
            for (i, heap) in self.heaps.iter().enumerate() {
                let footprint = heap.footprint();
                assert!(
                    footprint <= self.limits[i],
                    "after {name}: heap {i} footprint {footprint} above its limit {}",
                    self.limits[i]
                );
            }
            heap.assert_consistent(name);
        }
    }

    /// Records a fresh block after checking it, or counts a refusal.
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
            self.outcome.refused += 1;
            return;
        }
        assert_aligned(p, align.max(2 * core::mem::size_of::<usize>()), what);
        // SAFETY: p is a live block of at least `size` bytes if the allocator
        // is right, which is what is being checked.
        unsafe {
            let usable = dlmalloc_usable_size(p.cast());
            assert!(
                usable >= size,
                "{what}: usable size {usable} below the {size} requested"
            );
            if zeroed {
                verify_zeroed(p, size, what);
            }
            assert_disjoint(&self.live, p, size, None);
            let seed = (self.outcome.operations as u8) ^ (size as u8);
            fill(p, size, seed);
            if self.live.len() == MAX_LIVE {
                let old = self.live.swap_remove(0);
                verify(old.ptr, old.size, old.size, old.seed, "evicted block");
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
        // SAFETY: b is live in its heap.
        unsafe {
            verify(b.ptr, b.size, b.size, b.seed, "block before free");
            self.heaps[b.heap].free(b.ptr);
        }
    }

    unsafe fn realloc(&mut self, input: &mut Input<'_>, in_place: bool) {
        if self.live.is_empty() {
            return;
        }
        let i = input.below(self.live.len());
        let b = self.live[i];
        let size = input.size().max(1);
        let heap = self.heaps[b.heap];
        // SAFETY: b is live in its heap.
        unsafe {
            let p = if in_place {
                heap.realloc_in_place(b.ptr, size)
            } else {
                heap.realloc(b.ptr, size)
            };
            if p.is_null() {
                self.outcome.refused += 1;
                verify(
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
            verify(p, b.size, kept, b.seed, "realloc kept prefix");
            assert!(
                dlmalloc_usable_size(p.cast()) >= size,
                "realloc: usable size below {size}"
            );
            assert_disjoint(&self.live, p, size, Some(i));
            fill(p, size, b.seed);
            self.live[i] = Block { ptr: p, size, ..b };
        }
    }

    unsafe fn posix_memalign(&mut self, input: &mut Input<'_>) {
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
            unsafe { self.adopt(0, p.cast(), size, align, false, "posix_memalign") };
        } else {
            assert_eq!(rc, ENOMEM, "posix_memalign: unexpected error {rc}");
            assert!(p.is_null(), "posix_memalign wrote *pp on failure");
            self.outcome.refused += 1;
        }
    }

    unsafe fn comalloc(&mut self, input: &mut Input<'_>, h: usize) {
        let n = 1 + input.below(6);
        let sizes: Vec<usize> = (0..n).map(|_| usize::from(input.u16()) % 2048).collect();
        let mut out = vec![NULL; n];
        // SAFETY: the heap is live; both arrays hold n elements.
        unsafe {
            if !self.heaps[h].comalloc(&sizes, &mut out) {
                self.outcome.refused += 1;
                return;
            }
            for (&p, &size) in out.iter().zip(&sizes) {
                self.adopt(h, p.cast(), size, 1, false, "independent_comalloc");
            }
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
                unsafe { verify(b.ptr, b.size, b.size, b.seed, "block before bulk_free") };
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
        let (param, value) = match input.below(3) {
            0 => (M_TRIM_THRESHOLD, values[input.below(values.len())]),
            1 => (M_MMAP_THRESHOLD, values[input.below(values.len())]),
            // Granularity changes would outlive the run; only refusals here.
            _ => (M_GRANULARITY, [3, 1000, -5][input.below(3)]),
        };
        // SAFETY: any parameter and value are accepted.
        let ok = unsafe { dlmallopt(param, value) };
        let expected = i32::from(param != M_GRANULARITY);
        assert_eq!(ok, expected, "mallopt({param}, {value})");
    }

    unsafe fn footprint_limit(&mut self, input: &mut Input<'_>, h: usize) {
        if h == 3 {
            return; // the fixed heap keeps its no-growth limit
        }
        let heap = self.heaps[h];
        // SAFETY: the heap is live.
        unsafe {
            let footprint = heap.footprint();
            let asked = match input.below(3) {
                0 => usize::MAX,
                1 => footprint,
                _ => footprint + (usize::from(input.u16()) << 8),
            };
            let limit = heap.set_footprint_limit(asked);
            assert!(
                asked == usize::MAX || limit >= asked,
                "limit {limit} below the {asked} asked"
            );
            // A limit below the footprint stops growth; it does not shrink.
            self.limits[h] = limit.max(footprint);
        }
    }

    /// Frees every block, restores process-wide settings, destroys the mspaces.
    fn finish(&mut self) {
        // SAFETY: every block is live in its heap; the mspaces are live and
        // no block of theirs survives their destruction.
        unsafe {
            for b in self.live.drain(..) {
                verify(b.ptr, b.size, b.size, b.seed, "block at the end");
                self.heaps[b.heap].free(b.ptr);
            }
            for heap in self.heaps {
                heap.assert_consistent("freeing everything");
            }
            dlmalloc_set_footprint_limit(usize::MAX);
            dlmallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD);
            dlmallopt(M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD);
            for heap in &self.heaps[1..] {
                if let Heap::Space(m) = *heap {
                    destroy_mspace(m);
                }
            }
        }
    }
}
