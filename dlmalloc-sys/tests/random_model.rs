//! A model-based random test: 100 000 operations from a fixed seed
//! (malloc, calloc, memalign, posix_memalign, free, realloc,
//! realloc_in_place) against a table of live blocks, each filled with its
//! own pattern. Checks every result's alignment and usable size, every
//! block's contents before it is freed or resized, calloc zeroing,
//! non-overlap of live blocks, and the heap walker every 500 operations.

// Every unsafe block below is a call into the raw C API with pointers this
// test got from the same API (or null); a SAFETY line on each would repeat
// that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;

mod common;

use core::ffi::c_void;
use core::ptr::null_mut;

use common::{Rng, all_zero, assert_heap_ok, assert_pattern, fill};
use dlmalloc_sys::*;

const OPS: usize = 100_000;
const MAX_LIVE: usize = 2000;
const CHECK_EVERY: usize = 500;
const VERIFY_ALL_EVERY: usize = 10_000;

struct Block {
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
        _ => rng.range((256 << 10) + 1, 1 << 20),
    }
}

struct Model {
    rng: Rng,
    live: Vec<Block>,
    next_seed: u64,
    op: usize,
}

impl Model {
    /// Checks a new block and records it with a fresh pattern.
    fn accept(&mut self, p: *mut c_void, size: usize, align: usize, what: &str) {
        let op = self.op;
        assert!(!p.is_null(), "op {op}: {what}({size}) returned null");
        assert_eq!(
            p as usize % MALLOC_ALIGNMENT,
            0,
            "op {op}: {what}({size}) misaligned: {p:?}"
        );
        assert_eq!(
            p as usize % align,
            0,
            "op {op}: {what}({size}) not {align}-aligned: {p:?}"
        );
        let usable = unsafe { dlmalloc_usable_size(p) };
        assert!(
            usable >= size,
            "op {op}: {what}({size}): usable size {usable}"
        );
        self.next_seed += 1;
        unsafe { fill(p.cast(), 0, size, self.next_seed) };
        self.live.push(Block {
            p,
            size,
            seed: self.next_seed,
        });
    }

    fn verify(&self, b: &Block, what: &str) {
        let context = format!("op {}: {what}", self.op);
        unsafe { assert_pattern(b.p.cast(), 0, b.size, b.seed, &context) };
    }

    fn step(&mut self) {
        let full = self.live.len() >= MAX_LIVE;
        let empty = self.live.is_empty();
        let roll = if full {
            self.rng.range(48, 99)
        } else if empty {
            self.rng.below(48)
        } else {
            self.rng.below(100)
        };
        match roll {
            0..=29 => {
                let size = random_size(&mut self.rng);
                let p = unsafe { dlmalloc(size) };
                self.accept(p, size, 1, "dlmalloc");
            }
            30..=37 => {
                let size = random_size(&mut self.rng);
                let count = self.rng.range(1, 16);
                let elem = size / count + 1;
                let p = unsafe { dlcalloc(count, elem) };
                assert!(
                    !p.is_null(),
                    "op {}: dlcalloc({count}, {elem}) returned null",
                    self.op
                );
                assert!(
                    unsafe { all_zero(p.cast(), count * elem) },
                    "op {}: dlcalloc({count}, {elem}) returned non-zero memory",
                    self.op
                );
                self.accept(p, count * elem, 1, "dlcalloc");
            }
            38..=45 => {
                let align = 1usize << self.rng.range(0, 16);
                let size = random_size(&mut self.rng);
                let p = unsafe { dlmemalign(align, size) };
                self.accept(p, size, align, "dlmemalign");
            }
            46..=47 => {
                let align = size_of::<usize>() << self.rng.range(0, 12);
                let size = random_size(&mut self.rng);
                let mut p = null_mut();
                let rc = unsafe { dlposix_memalign(&mut p, align, size) };
                assert_eq!(rc, 0, "op {}: dlposix_memalign({align}, {size})", self.op);
                self.accept(p, size, align, "dlposix_memalign");
            }
            48..=74 => {
                let b = self.live.swap_remove(self.rng.below(self.live.len()));
                self.verify(&b, "block before dlfree");
                unsafe { dlfree(b.p) };
            }
            75..=94 => {
                let i = self.rng.below(self.live.len());
                self.verify(&self.live[i], "block before dlrealloc");
                let (p, old, seed) = (self.live[i].p, self.live[i].size, self.live[i].seed);
                if self.rng.chance(1) {
                    let q = unsafe { dlrealloc(p, 0) };
                    assert!(
                        q.is_null(),
                        "op {}: dlrealloc(p, 0) returned {q:?}",
                        self.op
                    );
                    self.live.swap_remove(i);
                    return;
                }
                let new = random_size(&mut self.rng);
                let q = unsafe { dlrealloc(p, new) };
                assert!(
                    !q.is_null(),
                    "op {}: dlrealloc({old} -> {new}) returned null",
                    self.op
                );
                assert_eq!(q as usize % MALLOC_ALIGNMENT, 0);
                assert!(unsafe { dlmalloc_usable_size(q) } >= new);
                let kept = old.min(new);
                let context = format!("op {}: prefix after dlrealloc({old} -> {new})", self.op);
                unsafe { assert_pattern(q.cast(), 0, kept, seed, &context) };
                unsafe { fill(q.cast(), kept, new, seed) };
                self.live[i] = Block {
                    p: q,
                    size: new,
                    seed,
                };
            }
            _ => {
                let i = self.rng.below(self.live.len());
                let (p, old, seed) = (self.live[i].p, self.live[i].size, self.live[i].seed);
                let new = if self.rng.chance(50) {
                    self.rng.range(0, old)
                } else {
                    old + self.rng.range(1, 2048)
                };
                let q = unsafe { dlrealloc_in_place(p, new) };
                if q.is_null() {
                    self.verify(&self.live[i], "block after a refused dlrealloc_in_place");
                } else {
                    assert_eq!(q, p, "op {}: dlrealloc_in_place moved the block", self.op);
                    assert!(unsafe { dlmalloc_usable_size(q) } >= new);
                    let kept = old.min(new);
                    let context = format!("op {}: dlrealloc_in_place({old} -> {new})", self.op);
                    unsafe { assert_pattern(q.cast(), 0, kept, seed, &context) };
                    unsafe { fill(q.cast(), kept, new, seed) };
                    self.live[i].size = new;
                }
            }
        }
    }

    /// Live blocks must not overlap one another.
    fn check_disjoint(&self) {
        let mut ranges: Vec<(usize, usize)> = self
            .live
            .iter()
            .map(|b| (b.p as usize, b.p as usize + b.size.max(1)))
            .collect();
        ranges.sort_unstable();
        for pair in ranges.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "op {}: live blocks overlap: {:#x}..{:#x} and {:#x}..{:#x}",
                self.op,
                pair[0].0,
                pair[0].1,
                pair[1].0,
                pair[1].1
            );
        }
    }
}

#[test]
fn random_operations_against_a_model() {
    let started = std::time::Instant::now();
    let mut model = Model {
        rng: Rng::new(0x5EED_F00D_D1A7),
        live: Vec::new(),
        next_seed: 0,
        op: 0,
    };
    for op in 0..OPS {
        model.op = op;
        model.step();
        if op % CHECK_EVERY == CHECK_EVERY - 1 {
            model.check_disjoint();
            assert_heap_ok(&format!("op {op}"));
        }
        if op % VERIFY_ALL_EVERY == VERIFY_ALL_EVERY - 1 {
            for b in &model.live {
                model.verify(b, "live block at a full verification");
            }
        }
    }
    model.check_disjoint();
    assert_heap_ok("after all operations");
    for b in std::mem::take(&mut model.live) {
        model.verify(&b, "block at the end");
        unsafe { dlfree(b.p) };
    }
    assert_heap_ok("after freeing everything");
    unsafe { dlmalloc_trim(0) };
    assert_heap_ok("after the final trim");
    eprintln!("{OPS} operations in {:?}", started.elapsed());
}
