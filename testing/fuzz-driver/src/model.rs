//! What the driver knows about every live block, and the checks that
//! compare it with what the allocator did.
//!
//! Blocks carry the shared test pattern (`dlmalloc_test_support::pattern`):
//! in full, or sampled so that a multi-megabyte block costs a fuzzing
//! iteration microseconds, not milliseconds, while a lost or shifted copy is
//! still seen ([`crate::Config::full_patterns`] chooses).

use dlmalloc_test_support::pattern;

/// A live block as the model sees it.
#[derive(Clone, Copy, Debug)]
pub struct Block {
    /// Index of the heap that owns it.
    pub heap: usize,
    /// The address the allocator returned.
    pub ptr: *mut u8,
    /// The size that was requested.
    pub size: usize,
    /// Seed of the pattern its bytes hold.
    pub seed: u64,
}

/// How much of each block carries the pattern.
#[derive(Clone, Copy, Debug)]
pub struct Patterns {
    /// Every byte, not a sample of a large block's bytes.
    pub full: bool,
}

impl Patterns {
    /// Writes the block's pattern.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid for writes of `size` bytes; anything else is
    /// undefined behavior.
    pub unsafe fn fill(self, ptr: *mut u8, size: usize, seed: u64) {
        // SAFETY: forwarded from the caller.
        unsafe {
            if self.full {
                pattern::fill(ptr, 0, size, seed);
            } else {
                pattern::fill_sampled(ptr, size, seed);
            }
        }
    }

    /// Panics unless the pattern written by `fill(ptr, filled, seed)` still
    /// holds in the first `len` bytes (`len` <= `filled`: what a shrinking
    /// realloc kept).
    ///
    /// # Safety
    ///
    /// `ptr` must be valid for reads of `len` bytes; anything else is
    /// undefined behavior.
    #[track_caller]
    pub unsafe fn verify(self, ptr: *const u8, filled: usize, len: usize, seed: u64, what: &str) {
        // SAFETY: forwarded from the caller.
        unsafe {
            if self.full {
                pattern::assert_pattern(ptr, 0, len, seed, what);
            } else {
                pattern::assert_sampled(ptr, filled, len, seed, what);
            }
        }
    }
}

/// Panics unless the `size` bytes at `ptr` are all zero.
///
/// # Safety
///
/// `ptr` must be valid for reads of `size` bytes; anything else is
/// undefined behavior.
pub unsafe fn verify_zeroed(ptr: *const u8, size: usize, what: &str) {
    // SAFETY: forwarded from the caller.
    let zero = unsafe { pattern::all_zero(ptr, size) };
    assert!(
        zero,
        "{what}: a zeroed {size}-byte block at {ptr:p} is not zero"
    );
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
