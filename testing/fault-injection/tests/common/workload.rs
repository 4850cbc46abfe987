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
pub use dlmalloc_test_support::Rng;
use dlmalloc_test_support::all_zero;

use super::*;

/// A request size: mostly small, some medium, some directly mapped.
pub fn size(rng: &mut Rng) -> usize {
    match rng.below(10) {
        0..=5 => 1 + rng.below(2000),
        6..=8 => 16 * KIB + rng.below(200 * KIB),
        _ => MMAP_THRESHOLD + rng.below(2 * MIB),
    }
}

/// How a sweep arms a fault before run `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    /// Only call `i` fails.
    OneCall,
    /// Calls `i`, `i + 1`, ... all fail: the system runs out for good.
    FromCall,
}

impl Sweep {
    /// Arms `custom_mmap` to fail at call `i`.
    pub fn arm_mmap(self, i: u64) {
        match self {
            Sweep::OneCall => faults::fail_mmap_call(i),
            Sweep::FromCall => faults::fail_mmap_after(i),
        }
    }

    /// Arms `custom_munmap` to fail at call `i`.
    pub fn arm_munmap(self, i: u64) {
        match self {
            Sweep::OneCall => faults::fail_munmap_call(i),
            Sweep::FromCall => faults::fail_munmap_after(i),
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
    let mut rng = Rng::new(0xFA11);
    let mut live: Vec<Block> = Vec::new();
    let mut run = Run::default();
    for step in 0..120u64 {
        let failures = faults::counters().mmap_failures;
        let op = rng.below(10);
        let ok = match op {
            0..=2 => {
                let size = size(&mut rng);
                let p = heap.malloc(size);
                if !p.is_null() {
                    live.push(Block::fill(p, size, step));
                }
                !p.is_null()
            }
            3 => {
                let size = size(&mut rng);
                let p = heap.calloc(1, size);
                if !p.is_null() {
                    assert!(
                        unsafe { all_zero(p, size) },
                        "{name}: calloc memory is not zero"
                    );
                    live.push(Block::fill(p, size, step));
                }
                !p.is_null()
            }
            4 => {
                let (align, size) = ([64, 4096, 64 * KIB][rng.below(3)], size(&mut rng));
                let p = heap.memalign(align, size);
                if !p.is_null() {
                    assert_eq!(p as usize % align, 0);
                    live.push(Block::fill(p, size, step));
                }
                !p.is_null()
            }
            5 if !live.is_empty() => {
                let i = rng.below(live.len());
                let grown = live[i].len.min(2 * MIB) * 2 + size(&mut rng) % (64 * KIB);
                let p = unsafe { heap.realloc(live[i].ptr, grown) };
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
                let p = unsafe { heap.realloc_in_place(live[i].ptr, live[i].len + 64) };
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
                let p = unsafe { heap.realloc(live[i].ptr, shrunk) };
                assert!(!p.is_null(), "{name}: a shrinking realloc failed");
                let mut moved = live[i];
                moved.ptr = p;
                moved.verify_prefix(shrunk, "block shrunk by realloc");
                live[i] = Block::fill(p, shrunk, step);
                true
            }
            8 => {
                let sizes = [size(&mut rng) % 5000 + 1, 100, size(&mut rng) % 300 + 1];
                let mut out = [null_mut(); 3];
                let ok = independent_comalloc(heap, &sizes, &mut out);
                if ok {
                    for (p, size) in out.into_iter().zip(sizes) {
                        live.push(Block::fill(p.cast(), size, step));
                    }
                }
                let array = independent_calloc(heap, 2, size(&mut rng) % 3000 + 1);
                if !array.is_null() {
                    unsafe {
                        let (a, b) = (*array, *array.add(1));
                        heap.free(a.cast());
                        heap.free(b.cast());
                        heap.free(array.cast());
                    }
                }
                ok && !array.is_null()
            }
            _ => {
                if !live.is_empty() {
                    let block = live.swap_remove(rng.below(live.len()));
                    block.verify("block before free");
                    unsafe { heap.free(block.ptr) };
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
