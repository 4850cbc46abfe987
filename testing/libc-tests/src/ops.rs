//! A program of C allocation calls decoded from bytes, checked as it runs:
//! what the `c_api` fuzz target (testing/fuzz) and the seeded test
//! `tests/c_ops.rs` execute. Every call goes through `dlmalloc-libc`'s C
//! functions: malloc, calloc, realloc, reallocarray, free (on this thread
//! or on another one), posix_memalign, aligned_alloc, memalign, valloc,
//! pvalloc, malloc_usable_size, malloc_trim and mallinfo2. Each live block
//! carries a pattern that is verified before it is resized or freed;
//! results are checked against C's rules (alignment, usable size, zeroed
//! memory, null and errno on failure, untouched blocks after a failed
//! realloc), and the heap check runs now and then and at the end.

use core::ffi::c_void;
use std::thread;

use dlmalloc::DLMalloc;
use dlmalloc_fuzz_driver::Input;
use dlmalloc_libc::{
    aligned_alloc, calloc, free, mallinfo2, malloc, malloc_trim, malloc_usable_size, memalign,
    posix_memalign, pvalloc, realloc, reallocarray, valloc,
};
use dlmalloc_test_support::pattern::{assert_sampled, fill_sampled};

/// At most this many live blocks; past it the oldest is freed.
const MAX_LIVE: usize = 128;
/// Requests up to this size must succeed (no footprint limit is set).
const SANE_REQUEST: usize = 64 << 20;
/// The default alignment of malloc's blocks.
const ALIGN: usize = 2 * size_of::<usize>();
/// The page size valloc and pvalloc round to on the hosts this runs on.
const PAGE: usize = 4096;

/// One live block: where, how many bytes the program asked for, its
/// pattern's seed.
#[derive(Clone, Copy, Debug)]
struct Block {
    ptr: *mut u8,
    size: usize,
    seed: u64,
}

// SAFETY: a block is plain memory of the heap; handing it to another
// thread to free is what C programs do.
unsafe impl Send for Block {}

/// Runs the program `bytes` decode to. Panics, naming the call, on the
/// first wrong result; misuse the allocator detects would abort.
pub fn run(bytes: &[u8]) {
    let mut input = Input::new(bytes);
    let mut live: Vec<Block> = Vec::with_capacity(MAX_LIVE + 1);
    let mut seed = 0u64;
    while !input.is_empty() {
        seed += 1;
        // SAFETY: every block handed to the C functions is live, from `live`.
        unsafe { step(&mut input, &mut live, seed) };
        if live.len() > MAX_LIVE {
            let oldest = live.remove(0);
            // SAFETY: a live block, freed once.
            unsafe { release(oldest, "free of the oldest") };
        }
    }
    for block in live.drain(..) {
        // SAFETY: as above.
        unsafe { release(block, "free at the end") };
    }
    if let Err(error) = DLMalloc.heap_check() {
        panic!("heap check at the end: {error}");
    }
}

/// errno, as the C functions left it.
fn errno() -> i32 {
    // SAFETY: the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

fn clear_errno() {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = 0 };
}

/// Checks a fresh block of `size` bytes aligned to `align` (null allowed
/// only for requests beyond [`SANE_REQUEST`], with ENOMEM) and adds it to
/// `live` with its pattern.
///
/// # Safety
///
/// `p` is null or a fresh block of the heap.
unsafe fn adopt(
    live: &mut Vec<Block>,
    p: *mut c_void,
    size: usize,
    align: usize,
    seed: u64,
    what: &str,
) {
    if p.is_null() {
        assert!(size > SANE_REQUEST, "{what}: null for {size} bytes");
        assert_eq!(errno(), libc::ENOMEM, "{what}: null without ENOMEM");
        return;
    }
    let ptr = p.cast::<u8>();
    assert_eq!(
        ptr as usize % align,
        0,
        "{what}: {ptr:p} not aligned to {align}"
    );
    // SAFETY: a live block.
    let usable = unsafe { malloc_usable_size(p) };
    assert!(usable >= size, "{what}: {usable} usable bytes for {size}");
    assert!(
        live.iter()
            .all(|b| ptr as usize >= b.ptr as usize + b.size.max(1)
                || ptr as usize + size.max(1) <= b.ptr as usize),
        "{what}: {ptr:p} overlaps a live block"
    );
    // SAFETY: the block holds `size` bytes.
    unsafe { fill_sampled(ptr, size, seed) };
    live.push(Block { ptr, size, seed });
}

/// Verifies a block's pattern and frees it.
///
/// # Safety
///
/// `block` is live, and not used again.
unsafe fn release(block: Block, what: &str) {
    // SAFETY: live, holding `size` bytes of its pattern.
    unsafe {
        assert_sampled(block.ptr, block.size, block.size, block.seed, what);
        free(block.ptr.cast());
    }
}

/// Frees `batch` on a new thread, which also allocates and frees a block of
/// its own (its cache then registers and exits with the thread).
fn free_elsewhere(batch: Vec<Block>) {
    thread::spawn(move || {
        for block in batch {
            // SAFETY: live blocks handed over, freed once.
            unsafe { release(block, "free on another thread") };
        }
        let own = malloc(100);
        assert!(!own.is_null(), "malloc(100) on the freeing thread");
        // SAFETY: the thread's own fresh block.
        unsafe { free(own) };
    })
    .join()
    .expect("the freeing thread panicked");
}

/// A power-of-two alignment from 8 bytes to 64 KiB.
fn alignment(input: &mut Input<'_>) -> usize {
    8 << input.below(14)
}

/// Runs one decoded call.
///
/// # Safety
///
/// Every block in `live` is a live block of the heap.
unsafe fn step(input: &mut Input<'_>, live: &mut Vec<Block>, seed: u64) {
    clear_errno();
    // SAFETY: every block handed to the C functions below comes from `live`
    // (live, caller) and leaves it when freed.
    unsafe {
        match input.below(14) {
            0 | 1 => {
                let size = input.size();
                adopt(live, malloc(size), size, ALIGN, seed, "malloc");
            }
            2 => {
                let (count, elem) = (input.below(64), input.size() % 8192);
                let p = calloc(count, elem);
                if !p.is_null() {
                    let bytes = core::slice::from_raw_parts(p.cast::<u8>(), count * elem);
                    assert!(
                        bytes.iter().all(|&b| b == 0),
                        "calloc({count}, {elem}): not zeroed"
                    );
                }
                adopt(live, p, count * elem, ALIGN, seed, "calloc");
            }
            3 => {
                let p = calloc(usize::MAX / 2 + 1, 2 + input.below(8));
                assert!(
                    p.is_null() && errno() == libc::ENOMEM,
                    "calloc overflow: {p:p}"
                );
            }
            4 | 5 if !live.is_empty() => {
                let block = live.swap_remove(input.below(live.len()));
                release(block, "free");
            }
            6 if !live.is_empty() => {
                let i = input.below(live.len());
                let block = live[i];
                let size = input.size();
                assert_sampled(
                    block.ptr,
                    block.size,
                    block.size,
                    block.seed,
                    "before realloc",
                );
                let p = if input.below(4) == 0 {
                    reallocarray(block.ptr.cast(), size, 1)
                } else {
                    realloc(block.ptr.cast(), size)
                };
                if size == 0 {
                    assert!(p.is_null(), "realloc to 0 returned {p:p}");
                    live.swap_remove(i);
                } else if p.is_null() {
                    assert!(size > SANE_REQUEST, "realloc to {size}: null");
                    assert_eq!(errno(), libc::ENOMEM, "realloc: null without ENOMEM");
                    assert_sampled(
                        block.ptr,
                        block.size,
                        block.size,
                        block.seed,
                        "after a failed realloc",
                    );
                } else {
                    let kept = block.size.min(size);
                    assert_sampled(p.cast(), block.size, kept, block.seed, "realloc kept");
                    live.swap_remove(i);
                    adopt(live, p, size, ALIGN, seed, "realloc");
                }
            }
            7 => {
                let (align, size) = (alignment(input), input.size() % 100_000);
                let mut p = core::ptr::null_mut();
                assert_eq!(
                    posix_memalign(&mut p, align, size),
                    0,
                    "posix_memalign({align}, {size})"
                );
                adopt(live, p, size, align, seed, "posix_memalign");
            }
            8 => {
                let (align, size) = (alignment(input), input.size() % 100_000);
                let p = if input.below(2) == 0 {
                    aligned_alloc(align, size)
                } else {
                    memalign(align, size)
                };
                adopt(live, p, size, align, seed, "aligned_alloc/memalign");
            }
            9 => {
                let size = input.size() % 100_000;
                let p = if input.below(2) == 0 {
                    valloc(size)
                } else {
                    pvalloc(size)
                };
                adopt(live, p, size, PAGE, seed, "valloc/pvalloc");
            }
            10 if !live.is_empty() => {
                // Blocks freed by another thread, which also allocates and
                // frees one of its own.
                let n = 1 + input.below(8).min(live.len() - 1);
                let batch: Vec<Block> = live.drain(..n).collect();
                free_elsewhere(batch);
            }
            11 => {
                let in_use: usize = live.iter().map(|b| malloc_usable_size(b.ptr.cast())).sum();
                let info = mallinfo2();
                assert!(
                    info.uordblks >= in_use,
                    "mallinfo2: {} in use < {in_use} live",
                    info.uordblks
                );
            }
            12 => {
                malloc_trim(input.below(4) << 16);
            }
            13 => {
                if let Err(error) = DLMalloc.heap_check() {
                    panic!("heap check: {error}");
                }
            }
            _ => {}
        }
    }
}
