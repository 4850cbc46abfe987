//! What the driver knows about every live block, and the checks that
//! compare it with what the allocator did.
//!
//! Large blocks are patterned at their ends and once per 4 KiB page rather
//! than in full, so a multi-megabyte block costs a fuzzing iteration
//! microseconds, not milliseconds, while a lost or shifted copy is still seen.

/// Blocks up to this size are patterned and verified in full.
const FULL_CHECK: usize = 64 << 10;
const EDGE: usize = 4096;
const STRIDE: usize = 4096;

/// A live block as the model sees it.
#[derive(Clone, Copy, Debug)]
pub struct Block {
    /// Index of the heap that owns it (0 is the global heap).
    pub heap: usize,
    /// The address the allocator returned.
    pub ptr: *mut u8,
    /// The size that was requested.
    pub size: usize,
    /// Seed of the pattern its bytes hold.
    pub seed: u8,
}

/// The pattern byte at offset `i` of a block with `seed`: a shifted or
/// truncated copy does not match it.
#[inline]
fn pattern(seed: u8, i: usize) -> u8 {
    (i as u8) ^ ((i >> 8) as u8).wrapping_mul(31) ^ seed
}

/// The offsets of a `size`-byte block that are patterned and checked, below
/// `limit`, in increasing order: `(start, end, step)` runs. Plain loops
/// over these keep unoptimised test builds fast, where iterator adapters
/// per byte dominated the test suite's time.
fn checked_runs(size: usize, limit: usize) -> [(usize, usize, usize); 3] {
    let runs = if size <= FULL_CHECK {
        [(0, size, 1), (0, 0, 1), (0, 0, 1)]
    } else {
        [
            (0, EDGE, 1),
            (EDGE, size - EDGE, STRIDE),
            (size - EDGE, size, 1),
        ]
    };
    runs.map(|(start, end, step)| (start, end.min(limit), step))
}

/// Calls `f` on every checked offset of a `size`-byte block below `limit`.
#[inline]
fn for_each_checked(size: usize, limit: usize, mut f: impl FnMut(usize)) {
    for (start, end, step) in checked_runs(size, limit) {
        let mut i = start;
        while i < end {
            f(i);
            i += step;
        }
    }
}

/// Writes the block's pattern.
///
/// # Safety
///
/// `ptr` must be valid for writes of `size` bytes.
pub unsafe fn fill(ptr: *mut u8, size: usize, seed: u8) {
    for_each_checked(size, size, |i| {
        // SAFETY: i < size and the caller guarantees size writable bytes.
        unsafe { ptr.add(i).write(pattern(seed, i)) };
    });
}

/// Panics unless the pattern written by `fill(ptr, filled, seed)` still
/// holds in the first `len` bytes (`len` <= `filled`: what a shrinking
/// realloc kept).
///
/// # Safety
///
/// `ptr` must be valid for reads of `len` bytes.
pub unsafe fn verify(ptr: *const u8, filled: usize, len: usize, seed: u8, what: &str) {
    for_each_checked(filled, len, |i| {
        // SAFETY: i < len and the caller guarantees len readable bytes.
        let got = unsafe { ptr.add(i).read() };
        assert_eq!(
            got,
            pattern(seed, i),
            "{what}: byte {i} of {len} changed at {ptr:p}"
        );
    });
}

/// Panics unless the block's checked bytes are all zero.
///
/// # Safety
///
/// `ptr` must be valid for reads of `size` bytes.
pub unsafe fn verify_zeroed(ptr: *const u8, size: usize, what: &str) {
    for_each_checked(size, size, |i| {
        // SAFETY: i < size and the caller guarantees size readable bytes.
        let got = unsafe { ptr.add(i).read() };
        assert_eq!(
            got, 0,
            "{what}: byte {i} of a zeroed {size}-byte block is {got}"
        );
    });
}

/// Panics if `[ptr, ptr+size)` overlaps a live block other than `except`.
pub fn assert_disjoint(live: &[Block], ptr: *mut u8, size: usize, except: Option<usize>) {
    let start = ptr as usize;
    let end = start + size.max(1);
    for (i, b) in live.iter().enumerate() {
        if Some(i) == except {
            continue;
        }
        let (bs, be) = (b.ptr as usize, b.ptr as usize + b.size.max(1));
        assert!(
            end <= bs || be <= start,
            "new block {start:#x}..{end:#x} overlaps live block {bs:#x}..{be:#x} of heap {}",
            b.heap
        );
    }
}

/// Panics unless `ptr` is aligned to `align` (a power of two).
pub fn assert_aligned(ptr: *mut u8, align: usize, what: &str) {
    assert_eq!(
        ptr as usize % align,
        0,
        "{what}: {ptr:p} is not {align}-aligned"
    );
}
