//! The checksum of a verification round: an adapter around an allocator
//! that hashes every request a workload makes (kind, sizes, alignment) and
//! the edges of every block it gives back or resizes (the stamps the
//! workload wrote there). The harness's workloads verify each block but
//! return no checksum; equal sums across allocators show that each one was
//! asked the same requests in the same order and handed back the contents
//! the workload wrote.
//!
//! The hashing costs time, so only the untimed verification round runs
//! through the adapter; the timed rounds call the allocator directly.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What a hashed request was, so that the same sizes in another kind of
/// request hash differently.
#[derive(Clone, Copy)]
enum Request {
    Alloc = 1,
    Dealloc = 2,
    Realloc = 3,
}

/// An allocator whose requests are hashed into [`Tally::sum`].
pub struct Tally<'a> {
    inner: &'a (dyn GlobalAlloc + Sync),
    /// Atomic only because the workloads take a `Sync` allocator: just the
    /// single-threaded workloads run through a tally, so the order of the
    /// updates, which the hash depends on, is the program's.
    sum: AtomicU64,
}

/// `hash` with `value` hashed in: FNV-1a's step on a whole word, cheap and
/// order-sensitive (the wasm speed crate's checksum uses the same step).
fn mix(hash: u64, value: u64) -> u64 {
    (hash ^ value).wrapping_mul(0x0000_0100_0000_01b3)
}

/// The first and the last (up to) 8 bytes of a block of `size` bytes,
/// little-endian: the two stamps of a stamped block, the bytes of a short
/// string.
///
/// # Safety
///
/// `block` must be valid for reads of `size` bytes. Otherwise the behavior
/// is undefined.
unsafe fn edges(block: *const u8, size: usize) -> (u64, u64) {
    let n = size.min(8);
    let (mut head, mut tail) = ([0u8; 8], [0u8; 8]);
    // SAFETY: both runs of `n` bytes lie within the block (caller's
    // contract); the arrays are distinct locals.
    unsafe {
        ptr::copy_nonoverlapping(block, head.as_mut_ptr(), n);
        ptr::copy_nonoverlapping(block.add(size - n), tail.as_mut_ptr(), n);
    }
    (u64::from_le_bytes(head), u64::from_le_bytes(tail))
}

impl<'a> Tally<'a> {
    /// `inner`, with a sum of nothing hashed yet.
    pub fn new(inner: &'a (dyn GlobalAlloc + Sync)) -> Tally<'a> {
        Tally {
            inner,
            sum: AtomicU64::new(0),
        }
    }

    /// The hash of every request so far.
    pub fn sum(&self) -> u64 {
        self.sum.load(Relaxed)
    }

    /// Hashes one request's words into the sum.
    fn record(&self, request: Request, words: &[u64]) {
        let mut sum = mix(self.sum.load(Relaxed), request as u64);
        for &word in words {
            sum = mix(sum, word);
        }
        self.sum.store(sum, Relaxed);
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments and
// returns its result; the hashing only reads the caller's live blocks.
unsafe impl GlobalAlloc for Tally<'_> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.record(
            Request::Alloc,
            &[layout.size() as u64, layout.align() as u64],
        );
        // SAFETY: GlobalAlloc::alloc's contract, which the caller upholds.
        unsafe { self.inner.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: a live block of `layout.size()` bytes (caller's contract).
        let (head, tail) = unsafe { edges(ptr, layout.size()) };
        let words = [layout.size() as u64, layout.align() as u64, head, tail];
        self.record(Request::Dealloc, &words);
        // SAFETY: GlobalAlloc::dealloc's contract, which the caller upholds.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: a live block of `layout.size()` bytes (caller's contract).
        let (head, tail) = unsafe { edges(ptr, layout.size()) };
        let size = layout.size() as u64;
        let words = [size, layout.align() as u64, new_size as u64, head, tail];
        self.record(Request::Realloc, &words);
        // SAFETY: GlobalAlloc::realloc's contract, which the caller upholds.
        unsafe { self.inner.realloc(ptr, layout, new_size) }
    }
}
