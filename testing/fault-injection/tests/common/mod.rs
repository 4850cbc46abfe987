//! Helpers shared by the fault-injection tests: patterned blocks that verify
//! their own contents, the heap checks with the platform's contract, and
//! the cross-check of the platform's mapped bytes against the heaps'
//! footprints. The heap type, the pattern and the checker's report are
//! `dlmalloc-test-support`'s.
//!
//! Nothing here allocates through the dl heaps: the test harness runs on the
//! system allocator, so the heaps see only the tests' explicit calls.

// Each test binary includes this module and uses a different subset of it.
#![allow(dead_code)]
// Every unsafe block below is a call into the raw C API with pointers this
// module got from the same API (or null), or a read/write inside a block
// the heap handed out; a SAFETY line on each would repeat that sentence.
#![allow(clippy::undocumented_unsafe_blocks)]

pub mod workload;

use core::ffi::c_void;
use core::ptr::null_mut;

use dlmalloc_fault_injection as faults;
use dlmalloc_sys::*;
pub use dlmalloc_test_support::Heap;
use dlmalloc_test_support::{assert_pattern, fill};

pub const KIB: usize = 1 << 10;
pub const MIB: usize = 1 << 20;
/// The core's default mmap threshold: blocks this large or larger get a
/// mapping of their own when the heap's free memory cannot serve them.
pub const MMAP_THRESHOLD: usize = 256 * KIB;

/// `independent_calloc` of `n` blocks of `size` bytes, with the pointer
/// array allocated too; null on failure.
pub fn independent_calloc(heap: Heap, n: usize, size: usize) -> *mut *mut c_void {
    // SAFETY: a null `chunks` array asks the heap for one.
    unsafe { heap.independent_calloc(n, size, null_mut()) }
}

/// `independent_comalloc` of `sizes` into the caller's array; false on
/// failure.
pub fn independent_comalloc(heap: Heap, sizes: &[usize], out: &mut [*mut c_void]) -> bool {
    assert!(out.len() >= sizes.len(), "the array is too short");
    // SAFETY: `out` holds at least sizes.len() pointers.
    let r = unsafe { heap.independent_comalloc(sizes, out.as_mut_ptr()) };
    assert!(
        r.is_null() || r == out.as_mut_ptr(),
        "comalloc returned {r:?}, neither null nor the caller's array"
    );
    !r.is_null()
}

/// Panics unless `heap` checks clean, its mallinfo adds up to its
/// footprint, and no hook call broke the contract.
#[track_caller]
pub fn assert_clean(heap: Heap, context: &str) {
    heap.assert_ok(context);
    heap.assert_mallinfo_exact(context);
    assert_eq!(
        faults::counters().contract_violations,
        0,
        "{context}: a hook call broke the contract (see stderr)"
    );
}

/// A block of `len` bytes at `ptr` that holds the pattern for `seed`.
#[derive(Clone, Copy, Debug)]
pub struct Block {
    pub ptr: *mut u8,
    pub len: usize,
    pub seed: u64,
}

impl Block {
    /// Fills `len` bytes at `ptr` (a live block of at least `len` bytes,
    /// aligned to 8) with the pattern for `seed`.
    pub fn fill(ptr: *mut u8, len: usize, seed: u64) -> Block {
        assert!(!ptr.is_null() && ptr as usize % 8 == 0, "bad block {ptr:?}");
        unsafe { fill(ptr, 0, len, seed) };
        Block { ptr, len, seed }
    }

    /// Panics, naming `what` and the first bad offset, unless the first
    /// `upto` bytes still hold the pattern.
    #[track_caller]
    pub fn verify_prefix(&self, upto: usize, what: &str) {
        unsafe { assert_pattern(self.ptr, 0, upto.min(self.len), self.seed, what) };
    }

    /// Panics unless the whole block still holds its pattern.
    #[track_caller]
    pub fn verify(&self, what: &str) {
        self.verify_prefix(self.len, what);
    }
}

/// Verifies every block of `blocks`.
#[track_caller]
pub fn verify_all(blocks: &[Block], what: &str) {
    for block in blocks {
        block.verify(what);
    }
}

/// Allocates blocks of decreasing sizes until even a 1-byte request fails,
/// filling each: with system memory failing, this uses up every free byte
/// of the heap. Returns the blocks.
pub fn exhaust(heap: Heap, seed: u64) -> Vec<Block> {
    let mut blocks = Vec::new();
    for size in [256 * KIB, 16 * KIB, 1024, 64, 1] {
        // Bounded: the heaps here hold a few MiB at most.
        for _ in 0..1_000_000 {
            let p = heap.malloc(size);
            if p.is_null() {
                break;
            }
            blocks.push(Block::fill(p, size, seed + blocks.len() as u64));
        }
    }
    assert!(
        heap.malloc(1).is_null(),
        "{}: a 1-byte request still succeeds after exhausting the heap",
        heap.name()
    );
    blocks
}

/// Frees every block after verifying it.
pub fn free_all(heap: Heap, blocks: Vec<Block>, what: &str) {
    for block in blocks {
        block.verify(what);
        unsafe { heap.free(block.ptr) };
    }
}

/// Panics unless the platform's mapped bytes equal the sum of the given
/// heaps' footprints plus `leaked` (memory no heap accounts for any more,
/// e.g. what a destroy_mspace could not give back).
#[track_caller]
pub fn assert_accounting(heaps: &[Heap], leaked: usize, context: &str) {
    assert_accounting_with(heaps, leaked, 0, context);
}

/// [`assert_accounting`] where `outside` bytes of the footprints are not
/// from the platform (the caller memory of create_mspace_with_base).
#[track_caller]
pub fn assert_accounting_with(heaps: &[Heap], leaked: usize, outside: usize, context: &str) {
    let footprints: usize = heaps.iter().map(|h| h.footprint()).sum();
    let mapped = faults::counters().mapped_bytes;
    assert_eq!(
        mapped + outside,
        footprints + leaked,
        "{context}: the platform has {mapped} bytes mapped, the heaps' footprints sum to \
         {footprints} (+{leaked} leaked, {outside} not from the platform)"
    );
}

/// An mspace that a test owns: destroyed by [`Space::destroy`], or on drop
/// when a test panicked before (with faults reset first, so that a failed
/// test does not leak mappings into the next test's accounting).
pub struct Space {
    msp: Mspace,
    alive: bool,
}

impl Space {
    /// `create_mspace(capacity, locked)`, which must succeed.
    pub fn create(capacity: usize, locked: bool) -> Space {
        let msp = unsafe { create_mspace(capacity, locked.into()) };
        assert!(!msp.is_null(), "create_mspace({capacity}, {locked}) failed");
        Space { msp, alive: true }
    }

    pub fn heap(&self) -> Heap {
        // Live until `destroy` or drop; the tests use it on one thread at a
        // time or created it locked.
        unsafe { Heap::mspace(self.msp) }
    }

    /// `destroy_mspace`; returns the bytes it reports released.
    pub fn destroy(mut self) -> usize {
        self.alive = false;
        unsafe { destroy_mspace(self.msp) }
    }
}

/// Runs `scenario(heap, all)` on a fresh mspace (`all`: the global heap and
/// it, the live heaps for accounting), then destroys it: it must give back
/// its whole footprint, and the platform keep only the global heap's.
pub fn on_a_fresh_mspace(locked: bool, scenario: impl FnOnce(Heap, &[Heap])) {
    let space = Space::create(0, locked);
    scenario(space.heap(), &[Heap::GLOBAL, space.heap()]);
    let footprint = space.heap().footprint();
    assert_eq!(space.destroy(), footprint, "destroy_mspace");
    assert_accounting(&[Heap::GLOBAL], 0, "after destroy_mspace");
}

impl Drop for Space {
    fn drop(&mut self) {
        if self.alive {
            faults::reset();
            unsafe { destroy_mspace(self.msp) };
        }
    }
}
