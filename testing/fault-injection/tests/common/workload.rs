//! A fixed workload over every kind of operation, for the sweeps that fail
//! one page-hook call at each position in turn: small, medium and directly
//! mapped blocks, calloc, memalign, growing realloc, realloc_in_place,
//! independent_calloc and comalloc, frees, and a final trim.
//!
//! Every block is filled with a pattern and verified before it is freed or
//! moved and at the end. An operation that returns failure must have seen
//! the system refuse memory during it; the heap is checked and the blocks
//! verified right after each failure.

// Every unsafe block below reads memory a heap handed out.
#![allow(clippy::undocumented_unsafe_blocks)]

use core::ptr::null_mut;

use dlmalloc_fault_injection as faults;

use super::*;

/// SplitMix64: the same sequence on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A request size: mostly small, some medium, some directly mapped.
    pub fn size(&mut self) -> usize {
        match self.below(10) {
            0..=5 => 1 + self.below(2000),
            6..=8 => 16 * KIB + self.below(200 * KIB),
            _ => MMAP_THRESHOLD + self.below(2 * MIB),
        }
    }
}

/// What one run saw.
#[derive(Default)]
pub struct Run {
    /// `custom_mmap` calls during the run.
    pub mmap_calls: u64,
    /// Of those, the ones that failed.
    pub injected: u64,
    /// `custom_munmap` calls during the run.
    pub munmap_calls: u64,
    /// Of those, the ones that failed.
    pub munmap_failures: u64,
    /// Operations that returned failure.
    pub failed_ops: usize,
}

/// Runs the workload on `heap`; `all` are the live heaps for accounting.
pub fn workload(heap: Heap, all: &[Heap]) -> Run {
    let name = heap.name();
    let start = faults::counters();
    let mut rng = Rng(0xFA11);
    let mut live: Vec<Block> = Vec::new();
    let mut run = Run::default();
    for step in 0..120u64 {
        let failures = faults::counters().mmap_failures;
        let op = rng.below(10);
        let ok = match op {
            0..=2 => {
                let size = rng.size();
                let p = heap.malloc(size);
                if !p.is_null() {
                    live.push(Block::fill(p, size, step));
                }
                !p.is_null()
            }
            3 => {
                let size = rng.size();
                let p = heap.calloc(1, size);
                if !p.is_null() {
                    let zero = unsafe { core::slice::from_raw_parts(p, size) }
                        .iter()
                        .all(|&b| b == 0);
                    assert!(zero, "{name}: calloc memory is not zero");
                    live.push(Block::fill(p, size, step));
                }
                !p.is_null()
            }
            4 => {
                let (align, size) = ([64, 4096, 64 * KIB][rng.below(3)], rng.size());
                let p = heap.memalign(align, size);
                if !p.is_null() {
                    assert_eq!(p as usize % align, 0);
                    live.push(Block::fill(p, size, step));
                }
                !p.is_null()
            }
            5 if !live.is_empty() => {
                let i = rng.below(live.len());
                let grown = live[i].len.min(2 * MIB) * 2 + rng.size() % (64 * KIB);
                let p = heap.realloc(live[i].ptr, grown);
                if p.is_null() {
                    live[i].verify("block after a failed realloc");
                } else {
                    let mut moved = live[i];
                    moved.ptr = p;
                    moved.verify("block moved by realloc");
                    live[i] = Block::fill(p, grown, step);
                }
                !p.is_null()
            }
            6 if !live.is_empty() => {
                let i = rng.below(live.len());
                let p = heap.realloc_in_place(live[i].ptr, live[i].len + 64);
                live[i].verify("block after realloc_in_place");
                // Failing to grow in place is a normal answer, not an
                // allocation failure.
                if !p.is_null() {
                    assert_eq!(p, live[i].ptr);
                }
                true
            }
            7 if !live.is_empty() => {
                // Shrinking never needs memory; a mapped block may give its
                // tail back or move out of its mapping.
                let i = rng.below(live.len());
                let shrunk = live[i].len / 3 + 1;
                let p = heap.realloc(live[i].ptr, shrunk);
                assert!(!p.is_null(), "{name}: a shrinking realloc failed");
                let mut moved = live[i];
                moved.ptr = p;
                moved.verify_prefix(shrunk, "block shrunk by realloc");
                live[i] = Block::fill(p, shrunk, step);
                true
            }
            8 => {
                let sizes = [rng.size() % 5000 + 1, 100, rng.size() % 300 + 1];
                let mut out = [null_mut(); 3];
                let ok = heap.independent_comalloc(&sizes, &mut out);
                if ok {
                    for (p, size) in out.into_iter().zip(sizes) {
                        live.push(Block::fill(p.cast(), size, step));
                    }
                }
                let array = heap.independent_calloc(2, rng.size() % 3000 + 1);
                if !array.is_null() {
                    let (a, b) = unsafe { (*array, *array.add(1)) };
                    heap.free(a.cast());
                    heap.free(b.cast());
                    heap.free(array.cast());
                }
                ok && !array.is_null()
            }
            _ => {
                if !live.is_empty() {
                    let block = live.swap_remove(rng.below(live.len()));
                    block.verify("block before free");
                    heap.free(block.ptr);
                }
                true
            }
        };
        if !ok {
            run.failed_ops += 1;
            assert!(
                faults::counters().mmap_failures > failures,
                "{name}: step {step} (op {op}) failed although the system refused nothing"
            );
            verify_all(&live, "live block after a failed operation");
            assert_clean(heap, &format!("{name}, after the failure at step {step}"));
            assert_accounting(all, 0, &format!("{name}, after the failure at step {step}"));
        }
    }
    verify_all(&live, "live block at the end of the workload");
    assert_clean(heap, &format!("{name}, end of the workload"));
    free_all(heap, live, "live block at the end");
    heap.trim(0);
    assert_clean(heap, &format!("{name}, after freeing everything"));
    assert_accounting(all, 0, &format!("{name}, after freeing everything"));
    let end = faults::counters();
    run.mmap_calls = end.mmap_calls - start.mmap_calls;
    run.injected = end.mmap_failures - start.mmap_failures;
    run.munmap_calls = end.munmap_calls - start.munmap_calls;
    run.munmap_failures = end.munmap_failures - start.munmap_failures;
    run
}
