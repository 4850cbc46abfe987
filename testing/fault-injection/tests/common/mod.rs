//! Helpers shared by the fault-injection tests: one view of the global heap
//! and of an mspace ([`Heap`]), patterned blocks that verify their own
//! contents, the heap checks, and the cross-check of the platform's mapped
//! bytes against the heaps' footprints.
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

use core::ffi::{CStr, c_char, c_void};
use core::ptr::null_mut;

use dlmalloc_fault_injection as faults;
use dlmalloc_sys::*;

pub const KIB: usize = 1 << 10;
pub const MIB: usize = 1 << 20;
/// The core's default mmap threshold: blocks this large or larger get a
/// mapping of their own when the heap's free memory cannot serve them.
pub const MMAP_THRESHOLD: usize = 256 * KIB;

/// The global heap or one mspace, behind one set of methods, so that each
/// scenario runs on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heap {
    /// The `dl*` API.
    Global,
    /// The `mspace_*` API on a live mspace.
    Space(Mspace),
}

impl Heap {
    pub fn name(self) -> &'static str {
        match self {
            Heap::Global => "global heap",
            Heap::Space(_) => "mspace",
        }
    }

    pub fn malloc(self, bytes: usize) -> *mut u8 {
        (match self {
            Heap::Global => unsafe { dlmalloc(bytes) },
            Heap::Space(m) => unsafe { mspace_malloc(m, bytes) },
        })
        .cast()
    }

    pub fn free(self, p: *mut u8) {
        match self {
            Heap::Global => unsafe { dlfree(p.cast()) },
            Heap::Space(m) => unsafe { mspace_free(m, p.cast()) },
        }
    }

    pub fn calloc(self, count: usize, size: usize) -> *mut u8 {
        (match self {
            Heap::Global => unsafe { dlcalloc(count, size) },
            Heap::Space(m) => unsafe { mspace_calloc(m, count, size) },
        })
        .cast()
    }

    pub fn realloc(self, p: *mut u8, bytes: usize) -> *mut u8 {
        (match self {
            Heap::Global => unsafe { dlrealloc(p.cast(), bytes) },
            Heap::Space(m) => unsafe { mspace_realloc(m, p.cast(), bytes) },
        })
        .cast()
    }

    pub fn realloc_in_place(self, p: *mut u8, bytes: usize) -> *mut u8 {
        (match self {
            Heap::Global => unsafe { dlrealloc_in_place(p.cast(), bytes) },
            Heap::Space(m) => unsafe { mspace_realloc_in_place(m, p.cast(), bytes) },
        })
        .cast()
    }

    pub fn memalign(self, align: usize, bytes: usize) -> *mut u8 {
        (match self {
            Heap::Global => unsafe { dlmemalign(align, bytes) },
            Heap::Space(m) => unsafe { mspace_memalign(m, align, bytes) },
        })
        .cast()
    }

    /// `independent_calloc` with the pointer array allocated too.
    pub fn independent_calloc(self, n: usize, size: usize) -> *mut *mut c_void {
        match self {
            Heap::Global => unsafe { dlindependent_calloc(n, size, null_mut()) },
            Heap::Space(m) => unsafe { mspace_independent_calloc(m, n, size, null_mut()) },
        }
    }

    /// `independent_comalloc` into the caller's array.
    pub fn independent_comalloc(self, sizes: &[usize], out: &mut [*mut c_void]) -> bool {
        let r = match self {
            Heap::Global => unsafe {
                dlindependent_comalloc(sizes.len(), sizes.as_ptr(), out.as_mut_ptr())
            },
            Heap::Space(m) => unsafe {
                mspace_independent_comalloc(m, sizes.len(), sizes.as_ptr(), out.as_mut_ptr())
            },
        };
        assert!(
            r.is_null() || r == out.as_mut_ptr(),
            "comalloc returned {r:?}, neither null nor the caller's array"
        );
        !r.is_null()
    }

    pub fn trim(self, pad: usize) -> bool {
        (match self {
            Heap::Global => unsafe { dlmalloc_trim(pad) },
            Heap::Space(m) => unsafe { mspace_trim(m, pad) },
        }) != 0
    }

    pub fn footprint(self) -> usize {
        match self {
            Heap::Global => unsafe { dlmalloc_footprint() },
            Heap::Space(m) => unsafe { mspace_footprint(m) },
        }
    }

    pub fn max_footprint(self) -> usize {
        match self {
            Heap::Global => unsafe { dlmalloc_max_footprint() },
            Heap::Space(m) => unsafe { mspace_max_footprint(m) },
        }
    }

    pub fn mallinfo(self) -> MallInfo {
        match self {
            Heap::Global => unsafe { dlmallinfo() },
            Heap::Space(m) => unsafe { mspace_mallinfo(m) },
        }
    }

    pub fn set_footprint_limit(self, bytes: usize) -> usize {
        match self {
            Heap::Global => unsafe { dlmalloc_set_footprint_limit(bytes) },
            Heap::Space(m) => unsafe { mspace_set_footprint_limit(m, bytes) },
        }
    }

    /// One line per violation the heap check reports (empty when clean).
    pub fn violations(self) -> Vec<String> {
        let mut report = Report {
            count: 0,
            first: [(core::ptr::null(), 0); 16],
        };
        let arg = (&raw mut report).cast::<c_void>();
        let returned = match self {
            Heap::Global => unsafe { dlmalloc_check(Some(record), arg) },
            Heap::Space(m) => unsafe { mspace_check(m, Some(record), arg) },
        };
        let mut lines: Vec<String> = report.first[..report.count.min(16)]
            .iter()
            .map(|&(what, at)| {
                let text = unsafe { CStr::from_ptr(what) }.to_string_lossy();
                format!("{text} at {at:#x}")
            })
            .collect();
        if report.count > 16 {
            lines.push(format!("... {} more", report.count - 16));
        }
        assert_eq!(returned, report.count, "check count differs from reports");
        lines
    }
}

/// What one heap check reported; filled with the heap lock held, so it
/// lives on the caller's stack and the callback does not allocate.
struct Report {
    count: usize,
    first: [(*const c_char, usize); 16],
}

unsafe extern "C" fn record(what: *const c_char, at: *const c_void, arg: *mut c_void) {
    let report = unsafe { &mut *arg.cast::<Report>() };
    if report.count < report.first.len() {
        report.first[report.count] = (what, at as usize);
    }
    report.count += 1;
}

/// Panics unless `heap` checks clean, its mallinfo adds up to its
/// footprint, and no hook call broke the contract.
#[track_caller]
pub fn assert_clean(heap: Heap, context: &str) {
    let lines = heap.violations();
    assert!(
        lines.is_empty(),
        "{context}: the {} check found {} violation(s):\n  {}",
        heap.name(),
        lines.len(),
        lines.join("\n  ")
    );
    let info = heap.mallinfo();
    let footprint = heap.footprint();
    assert_eq!(
        info.arena + info.hblkhd,
        footprint,
        "{context}: mallinfo arena + hblkhd differs from the footprint: {info:?}"
    );
    assert_eq!(
        info.uordblks + info.fordblks,
        footprint,
        "{context}: mallinfo used + free differs from the footprint: {info:?}"
    );
    assert!(
        info.usmblks >= footprint && heap.max_footprint() >= footprint,
        "{context}: max footprint below the footprint: {info:?}"
    );
    assert_eq!(
        faults::counters().contract_violations,
        0,
        "{context}: a hook call broke the contract (see stderr)"
    );
}

/// Word `index` of the pattern for `seed`; two offsets of one block never
/// hold the same word, so shifted or truncated copies are caught.
fn pattern_word(seed: u64, index: usize) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(index as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^ (z >> 27)
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
        let words = len / 8;
        for i in 0..words {
            unsafe { ptr.cast::<u64>().add(i).write(pattern_word(seed, i)) };
        }
        let last = pattern_word(seed, words).to_le_bytes();
        for (j, &byte) in last.iter().enumerate().take(len % 8) {
            unsafe { ptr.add(words * 8 + j).write(byte) };
        }
        Block { ptr, len, seed }
    }

    /// Panics, naming `what` and the first bad offset, unless the first
    /// `upto` bytes still hold the pattern.
    #[track_caller]
    pub fn verify_prefix(&self, upto: usize, what: &str) {
        let upto = upto.min(self.len);
        let words = upto / 8;
        for i in 0..words {
            let found = unsafe { self.ptr.cast::<u64>().add(i).read() };
            assert_eq!(
                found,
                pattern_word(self.seed, i),
                "{what}: block {:?} ({} bytes) changed at byte offset {}",
                self.ptr,
                self.len,
                i * 8
            );
        }
        let last = pattern_word(self.seed, words).to_le_bytes();
        for (j, &byte) in last.iter().enumerate().take(upto % 8) {
            let found = unsafe { self.ptr.add(words * 8 + j).read() };
            assert_eq!(
                found,
                byte,
                "{what}: block {:?} changed at byte offset {}",
                self.ptr,
                words * 8 + j
            );
        }
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
        heap.free(block.ptr);
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
        Heap::Space(self.msp)
    }

    /// `destroy_mspace`; returns the bytes it reports released.
    pub fn destroy(mut self) -> usize {
        self.alive = false;
        unsafe { destroy_mspace(self.msp) }
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        if self.alive {
            faults::reset();
            unsafe { destroy_mspace(self.msp) };
        }
    }
}
