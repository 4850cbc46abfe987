//! A model-based random test over five heaps used at once: four mspaces
//! (two locked, two not; one of the unlocked ones inside a 4 MiB caller
//! buffer that has to grow) and the global heap. 100 000 operations from a
//! fixed seed (malloc, calloc, memalign, free, realloc, realloc_in_place,
//! independent_comalloc, bulk_free) with sizes from 1 byte to 1 MiB, each
//! on a randomly chosen heap. Every block carries its own pattern, verified
//! before it is freed or resized, and is always freed into its own heap.
//! Every 500 operations: the heap walker on every heap, live blocks
//! disjoint, and each live block reported in use by its own heap's
//! inspect_all walk. At the end everything is freed, the mspaces are
//! destroyed and the platform's mapped bytes are back where they started
//! (the global heap's footprint aside).

// Every unsafe block below is a call into the raw C API with handles and
// pointers this test got from the same API (or null); a SAFETY line on each
// would repeat that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;
use dlmalloc_platform_std::mapped_bytes;

mod common;

use core::ffi::c_void;
use core::ptr::null_mut;

use common::{
    Rng, all_zero, assert_heap_ok, assert_mspace_ok, assert_pattern, fill, heap_ranges,
    mspace_ranges, serial,
};
use dlmalloc_sys::*;

/// 100 000 operations; a fifth under `debug-heap-walk`, where every
/// operation also walks the whole heap.
const OPS: usize = if cfg!(feature = "debug-heap-walk") {
    20_000
} else {
    100_000
};
const MAX_LIVE: usize = 2500;
const CHECK_EVERY: usize = 500;
const MIB: usize = 1 << 20;
/// The caller buffer of the with_base heap.
const REGION: usize = 4 * MIB;

/// One of the five heaps: `None` is the global heap.
#[derive(Clone, Copy)]
struct Heap {
    msp: Option<Mspace>,
    name: &'static str,
}

impl Heap {
    fn malloc(self, size: usize) -> *mut c_void {
        match self.msp {
            Some(msp) => unsafe { mspace_malloc(msp, size) },
            None => unsafe { dlmalloc(size) },
        }
    }

    fn free(self, p: *mut c_void) {
        match self.msp {
            Some(msp) => unsafe { mspace_free(msp, p) },
            None => unsafe { dlfree(p) },
        }
    }

    fn calloc(self, count: usize, elem: usize) -> *mut c_void {
        match self.msp {
            Some(msp) => unsafe { mspace_calloc(msp, count, elem) },
            None => unsafe { dlcalloc(count, elem) },
        }
    }

    fn memalign(self, align: usize, size: usize) -> *mut c_void {
        match self.msp {
            Some(msp) => unsafe { mspace_memalign(msp, align, size) },
            None => unsafe { dlmemalign(align, size) },
        }
    }

    fn realloc(self, p: *mut c_void, size: usize) -> *mut c_void {
        match self.msp {
            Some(msp) => unsafe { mspace_realloc(msp, p, size) },
            None => unsafe { dlrealloc(p, size) },
        }
    }

    fn realloc_in_place(self, p: *mut c_void, size: usize) -> *mut c_void {
        match self.msp {
            Some(msp) => unsafe { mspace_realloc_in_place(msp, p, size) },
            None => unsafe { dlrealloc_in_place(p, size) },
        }
    }

    fn comalloc(self, sizes: &[usize]) -> *mut *mut c_void {
        match self.msp {
            Some(msp) => unsafe {
                mspace_independent_comalloc(msp, sizes.len(), sizes.as_ptr(), null_mut())
            },
            None => unsafe { dlindependent_comalloc(sizes.len(), sizes.as_ptr(), null_mut()) },
        }
    }

    fn bulk_free(self, array: &mut [*mut c_void]) -> usize {
        match self.msp {
            Some(msp) => unsafe { mspace_bulk_free(msp, array.as_mut_ptr(), array.len()) },
            None => unsafe { dlbulk_free(array.as_mut_ptr(), array.len()) },
        }
    }

    fn usable(self, p: *const c_void) -> usize {
        match self.msp {
            Some(_) => unsafe { mspace_usable_size(p) },
            None => unsafe { dlmalloc_usable_size(p) },
        }
    }

    #[track_caller]
    fn check(self, context: &str) {
        let context = format!("{context}: {}", self.name);
        match self.msp {
            Some(msp) => unsafe { assert_mspace_ok(msp, &context) },
            None => assert_heap_ok(&context),
        }
    }

    fn ranges(self) -> Vec<(usize, usize, usize)> {
        match self.msp {
            Some(msp) => unsafe { mspace_ranges(msp) },
            None => heap_ranges(),
        }
    }
}

struct Block {
    heap: usize,
    p: *mut c_void,
    size: usize,
    seed: u64,
}

/// Mostly small, some medium, few large (up to 1 MiB, past the mmap
/// threshold).
fn random_size(rng: &mut Rng) -> usize {
    match rng.below(1000) {
        0..=799 => rng.range(1, 256),
        800..=959 => rng.range(257, 16 << 10),
        960..=994 => rng.range((16 << 10) + 1, 256 << 10),
        _ => rng.range((256 << 10) + 1, MIB),
    }
}

struct Model {
    heaps: Vec<Heap>,
    rng: Rng,
    live: Vec<Block>,
    next_seed: u64,
    op: usize,
}

impl Model {
    /// Checks a new block of heap `heap` and records it with a fresh
    /// pattern.
    fn accept(&mut self, heap: usize, p: *mut c_void, size: usize, align: usize, what: &str) {
        let (op, name) = (self.op, self.heaps[heap].name);
        assert!(
            !p.is_null(),
            "op {op}: {name}: {what}({size}) returned null"
        );
        assert_eq!(
            p as usize % align.max(MALLOC_ALIGNMENT),
            0,
            "op {op}: {name}: {what}({size}) not {align}-aligned: {p:?}"
        );
        let usable = self.heaps[heap].usable(p);
        assert!(
            usable >= size,
            "op {op}: {name}: {what}({size}): usable size {usable}"
        );
        self.next_seed += 1;
        unsafe { fill(p.cast(), 0, size, self.next_seed) };
        self.live.push(Block {
            heap,
            p,
            size,
            seed: self.next_seed,
        });
    }

    fn verify(&self, b: &Block, what: &str) {
        let context = format!("op {}: {}: {what}", self.op, self.heaps[b.heap].name);
        unsafe { assert_pattern(b.p.cast(), 0, b.size, b.seed, &context) };
    }

    fn step(&mut self) {
        let full = self.live.len() >= MAX_LIVE;
        let empty = self.live.is_empty();
        let roll = if full {
            self.rng.range(50, 99)
        } else if empty {
            self.rng.below(50)
        } else {
            self.rng.below(100)
        };
        let heap = self.rng.below(self.heaps.len());
        let h = self.heaps[heap];
        match roll {
            0..=29 => {
                let size = random_size(&mut self.rng);
                let p = h.malloc(size);
                self.accept(heap, p, size, 1, "malloc");
            }
            30..=37 => {
                let size = random_size(&mut self.rng);
                let count = self.rng.range(1, 16);
                let elem = size / count + 1;
                let p = h.calloc(count, elem);
                assert!(
                    !p.is_null() && unsafe { all_zero(p.cast(), count * elem) },
                    "op {}: {}: calloc({count}, {elem}) gave {p:?}, not zeroed memory",
                    self.op,
                    h.name
                );
                self.accept(heap, p, count * elem, 1, "calloc");
            }
            38..=45 => {
                let align = 1usize << self.rng.range(0, 16);
                let size = random_size(&mut self.rng);
                let p = h.memalign(align, size);
                self.accept(heap, p, size, align, "memalign");
            }
            46..=49 => {
                let count = self.rng.range(1, 5);
                let sizes: Vec<usize> = (0..count).map(|_| self.rng.range(1, 3000)).collect();
                let array = h.comalloc(&sizes);
                assert!(!array.is_null(), "op {}: {}: comalloc", self.op, h.name);
                let blocks = unsafe { core::slice::from_raw_parts(array, count) }.to_vec();
                // The array is a chunk of its own: it may go first.
                h.free(array.cast());
                for (p, size) in blocks.into_iter().zip(sizes) {
                    self.accept(heap, p, size, 1, "comalloc");
                }
            }
            50..=71 => {
                let b = self.live.swap_remove(self.rng.below(self.live.len()));
                self.verify(&b, "block before free");
                self.heaps[b.heap].free(b.p);
            }
            72..=74 => {
                // Up to eight blocks of one heap, in bulk.
                let first = self.rng.below(self.live.len());
                let heap = self.live[first].heap;
                let mut array = Vec::new();
                let mut i = 0;
                while i < self.live.len() && array.len() < 8 {
                    if self.live[i].heap == heap && self.rng.chance(50) {
                        let b = self.live.swap_remove(i);
                        self.verify(&b, "block before bulk_free");
                        array.push(b.p);
                        if self.rng.chance(10) {
                            array.push(null_mut());
                        }
                    } else {
                        i += 1;
                    }
                }
                let h = self.heaps[heap];
                assert_eq!(h.bulk_free(&mut array), 0, "op {}: bulk_free", self.op);
                assert!(array.iter().all(|p| p.is_null()), "op {}", self.op);
            }
            75..=94 => {
                let i = self.rng.below(self.live.len());
                self.verify(&self.live[i], "block before realloc");
                let (heap, p, old, seed) = {
                    let b = &self.live[i];
                    (b.heap, b.p, b.size, b.seed)
                };
                let h = self.heaps[heap];
                if self.rng.chance(1) {
                    let q = h.realloc(p, 0);
                    assert!(q.is_null(), "op {}: realloc(p, 0) gave {q:?}", self.op);
                    self.live.swap_remove(i);
                    return;
                }
                let new = random_size(&mut self.rng);
                let q = h.realloc(p, new);
                assert!(
                    !q.is_null() && q as usize % MALLOC_ALIGNMENT == 0,
                    "op {}: {}: realloc({old} -> {new}) gave {q:?}",
                    self.op,
                    h.name
                );
                assert!(h.usable(q) >= new);
                let kept = old.min(new);
                let context = format!("op {}: {}: realloc({old} -> {new})", self.op, h.name);
                unsafe { assert_pattern(q.cast(), 0, kept, seed, &context) };
                unsafe { fill(q.cast(), kept, new, seed) };
                self.live[i] = Block {
                    heap,
                    p: q,
                    size: new,
                    seed,
                };
            }
            _ => {
                let i = self.rng.below(self.live.len());
                let (heap, p, old, seed) = {
                    let b = &self.live[i];
                    (b.heap, b.p, b.size, b.seed)
                };
                let h = self.heaps[heap];
                let new = if self.rng.chance(50) {
                    self.rng.range(0, old)
                } else {
                    old + self.rng.range(1, 2048)
                };
                let q = h.realloc_in_place(p, new);
                if q.is_null() {
                    self.verify(&self.live[i], "block after a refused realloc_in_place");
                } else {
                    assert_eq!(q, p, "op {}: realloc_in_place moved the block", self.op);
                    assert!(h.usable(q) >= new);
                    let kept = old.min(new);
                    let context = format!("op {}: {}: realloc_in_place", self.op, h.name);
                    unsafe { assert_pattern(q.cast(), 0, kept, seed, &context) };
                    unsafe { fill(q.cast(), kept, new, seed) };
                    self.live[i].size = new;
                }
            }
        }
    }

    /// Every heap checks clean, live blocks are disjoint, and each heap's
    /// walk reports each of its live blocks in use (so every block was
    /// freed into, and is still owned by, the heap that returned it).
    fn check_all(&self, context: &str) {
        for h in &self.heaps {
            h.check(context);
        }
        let mut spans: Vec<(usize, usize)> = self
            .live
            .iter()
            .map(|b| (b.p as usize, b.p as usize + b.size.max(1)))
            .collect();
        spans.sort_unstable();
        for pair in spans.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "{context}: live blocks overlap: {pair:x?}"
            );
        }
        for (heap, h) in self.heaps.iter().enumerate() {
            let in_use: Vec<usize> = h
                .ranges()
                .into_iter()
                .filter(|r| r.2 > 0)
                .map(|r| r.0)
                .collect();
            for b in self.live.iter().filter(|b| b.heap == heap) {
                assert!(
                    in_use.binary_search(&(b.p as usize)).is_ok(),
                    "{context}: {}'s walk does not report its live block {:?}",
                    h.name,
                    b.p
                );
            }
        }
    }
}

#[test]
fn random_operations_on_five_heaps() {
    let _serial = serial();
    let started = std::time::Instant::now();
    // The global heap keeps what it maps; count mapped bytes beside it.
    let level = || mapped_bytes() - unsafe { dlmalloc_footprint() };
    let start = level();

    let mut region = vec![0u8; REGION];
    let locked_a = unsafe { create_mspace(0, 1) };
    let locked_b = unsafe { create_mspace(8 * MIB, 1) };
    let unlocked = unsafe { create_mspace(0, 0) };
    let based = unsafe { create_mspace_with_base(region.as_mut_ptr().cast(), REGION, 0) };
    for msp in [locked_a, locked_b, unlocked, based] {
        assert!(!msp.is_null(), "an mspace could not be created");
    }
    let region_bytes = unsafe { mspace_footprint(based) };
    let mut model = Model {
        heaps: vec![
            Heap {
                msp: None,
                name: "global heap",
            },
            Heap {
                msp: Some(locked_a),
                name: "locked mspace A",
            },
            Heap {
                msp: Some(locked_b),
                name: "locked mspace B (8 MiB)",
            },
            Heap {
                msp: Some(unlocked),
                name: "unlocked mspace",
            },
            Heap {
                msp: Some(based),
                name: "unlocked mspace in a 4 MiB buffer",
            },
        ],
        rng: Rng::new(0x4D5_FACE),
        live: Vec::new(),
        next_seed: 0,
        op: 0,
    };
    for op in 0..OPS {
        model.op = op;
        model.step();
        if op % CHECK_EVERY == CHECK_EVERY - 1 {
            model.check_all(&format!("op {op}"));
        }
    }
    model.check_all("after all operations");
    for b in std::mem::take(&mut model.live) {
        model.verify(&b, "block at the end");
        model.heaps[b.heap].free(b.p);
    }
    for h in &model.heaps {
        h.check("after freeing everything");
        assert!(
            h.ranges().iter().all(|r| r.2 == 0),
            "{}: blocks left in use",
            h.name
        );
    }
    assert!(
        unsafe { mspace_max_footprint(based) } > region_bytes,
        "the buffer heap never grew past its buffer"
    );
    unsafe { dlmalloc_trim(0) };
    for msp in [locked_a, locked_b, unlocked, based] {
        let footprint = unsafe { mspace_footprint(msp) };
        let own = if msp == based { region_bytes } else { 0 };
        let released = unsafe { destroy_mspace(msp) };
        assert_eq!(released, footprint - own, "destroy_mspace({msp:?})");
    }
    assert_eq!(
        level(),
        start,
        "mapped bytes (beside the global heap's footprint) after destroying the mspaces"
    );
    region.fill(1);
    eprintln!("{OPS} operations in {:?}", started.elapsed());
}
