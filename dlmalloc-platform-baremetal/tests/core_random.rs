//! The core on this platform, driven by a seeded random sequence of 60 000
//! operations in a fixed 8 MiB static arena: malloc, calloc, realloc,
//! memalign, free and trim of sizes from a few bytes to direct mappings.
//! Every block's pattern is verified, the heap walker runs every 250
//! operations, and the page allocator's figures always match the core's
//! footprint. Running out of arena memory must give null, never a crash.

use std::ffi::c_void;

use dlmalloc::DLMalloc;
use dlmalloc_platform_baremetal::{ArenaStats, arena_stats};
use dlmalloc_sys::{
    dlcalloc, dlfree, dlmalloc, dlmalloc_footprint, dlmalloc_trim, dlmalloc_usable_size,
    dlmemalign, dlrealloc,
};
use dlmalloc_test_support::{Rng, all_zero, assert_pattern, fill};

const ARENA: usize = 8 << 20;
dlmalloc_platform_baremetal::static_arena!(ARENA);

const OPS: usize = 60_000;
const CHECK_EVERY: usize = 250;

/// Mostly small sizes, some medium, a few large (direct mappings).
fn size(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..=69 => 1 + rng.below(256),
        70..=94 => 1 + rng.below(16 << 10),
        95..=98 => 1 + rng.below(200 << 10),
        _ => (256 << 10) + rng.below(1 << 20),
    }
}

/// A live block: its address, size, and the seed of its byte pattern.
struct Block {
    ptr: *mut u8,
    size: usize,
    seed: u64,
}

/// Checks the pattern `seed` written into a block, in its first `len` bytes
/// (all of them unless it was shrunk).
///
/// # Safety
///
/// `ptr` must be valid for `len` bytes of reads; anything else is undefined
/// behavior.
unsafe fn verify(ptr: *const u8, len: usize, seed: u64, op: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { assert_pattern(ptr, 0, len, seed, &format!("op {op}")) };
}

fn heap_check(op: usize) {
    if let Err(err) = DLMalloc.heap_check() {
        panic!("op {op}: heap check failed: {err:?}");
    }
}

/// The core got exactly the pages the page allocator handed out (nothing
/// else uses the hooks in this binary).
fn assert_accounting(op: usize) -> ArenaStats {
    let stats = arena_stats();
    // SAFETY: reads a counter of the global heap.
    let footprint = unsafe { dlmalloc_footprint() };
    assert_eq!(
        stats.total_bytes - stats.free_bytes,
        footprint,
        "op {op}: page allocator and core disagree: {stats:?}"
    );
    stats
}

#[test]
fn randomized_operations_keep_the_heap_and_the_arena_consistent() {
    let mut rng = Rng::new(0xBA5E_BA11);
    let mut live: Vec<Block> = Vec::new();
    let mut live_bytes = 0usize;
    let (mut null_results, mut direct_maps, mut trims) = (0usize, 0usize, 0usize);

    for op in 0..OPS {
        let seed = op as u64;
        // Keep the heap from filling the arena for good: free more when full.
        let bias = if live_bytes > ARENA / 2 { 30 } else { 0 };
        match rng.below(100) + bias {
            // malloc
            0..=29 => {
                let size = size(&mut rng);
                // SAFETY: a plain allocation.
                let p = unsafe { dlmalloc(size) }.cast::<u8>();
                if p.is_null() {
                    null_results += 1;
                    continue;
                }
                if size >= 256 << 10 {
                    direct_maps += 1;
                }
                // SAFETY: a live block of at least `size` bytes.
                unsafe {
                    assert!(dlmalloc_usable_size(p.cast()) >= size);
                    fill(p, 0, size, seed);
                }
                live.push(Block { ptr: p, size, seed });
                live_bytes += size;
            }
            // calloc
            30..=37 => {
                let size = size(&mut rng).min(64 << 10);
                let (count, elem) = if size % 8 == 0 {
                    (size / 8, 8)
                } else {
                    (size, 1)
                };
                // SAFETY: a plain allocation.
                let p = unsafe { dlcalloc(count, elem) }.cast::<u8>();
                if p.is_null() {
                    null_results += 1;
                    continue;
                }
                // SAFETY: a live, zeroed block of `size` bytes.
                unsafe {
                    assert!(all_zero(p, size), "op {op}: calloc not zeroed");
                    fill(p, 0, size, seed);
                }
                live.push(Block { ptr: p, size, seed });
                live_bytes += size;
            }
            // memalign
            38..=42 => {
                let align = 1usize << (4 + rng.below(10)); // 16 B .. 8 KiB
                let size = size(&mut rng).min(128 << 10);
                // SAFETY: a plain allocation.
                let p = unsafe { dlmemalign(align, size) }.cast::<u8>();
                if p.is_null() {
                    null_results += 1;
                    continue;
                }
                assert_eq!(
                    p as usize % align,
                    0,
                    "op {op}: memalign({align}) misaligned"
                );
                // SAFETY: a live block of at least `size` bytes.
                unsafe { fill(p, 0, size, seed) };
                live.push(Block { ptr: p, size, seed });
                live_bytes += size;
            }
            // realloc
            43..=57 if !live.is_empty() => {
                let i = rng.below(live.len());
                let new_size = size(&mut rng);
                let Block {
                    ptr,
                    size,
                    seed: old_seed,
                } = live[i];
                // SAFETY: `ptr` is live with `size` pattern bytes.
                unsafe { verify(ptr, size, old_seed, op) };
                // SAFETY: `ptr` is a live block; on success it is replaced.
                let q = unsafe { dlrealloc(ptr.cast(), new_size) }.cast::<u8>();
                if q.is_null() {
                    // The old block is untouched.
                    null_results += 1;
                    // SAFETY: still live.
                    unsafe { verify(ptr, size, old_seed, op) };
                    continue;
                }
                // SAFETY: `q` holds the old contents up to the smaller size.
                unsafe {
                    verify(q, size.min(new_size), old_seed, op);
                    fill(q, 0, new_size, seed);
                }
                live[i] = Block {
                    ptr: q,
                    size: new_size,
                    seed,
                };
                live_bytes = live_bytes - size + new_size;
            }
            // trim
            58 => {
                // SAFETY: trimming has no preconditions.
                trims += unsafe { dlmalloc_trim(rng.below(64 << 10)) } as usize;
            }
            // free
            _ if !live.is_empty() => {
                let i = rng.below(live.len());
                let block = live.swap_remove(i);
                // SAFETY: the block is live, verified, then freed once.
                unsafe {
                    verify(block.ptr, block.size, block.seed, op);
                    dlfree(block.ptr.cast::<c_void>());
                }
                live_bytes -= block.size;
            }
            _ => {}
        }
        if op % CHECK_EVERY == 0 {
            heap_check(op);
            assert_accounting(op);
        }
    }

    for block in live.drain(..) {
        // SAFETY: every remaining block is verified and freed once.
        unsafe {
            verify(block.ptr, block.size, block.seed, OPS);
            dlfree(block.ptr.cast());
        }
    }
    heap_check(OPS);
    // SAFETY: trimming has no preconditions.
    unsafe { dlmalloc_trim(0) };
    heap_check(OPS);
    let stats = assert_accounting(OPS);
    println!(
        "{OPS} ops: {null_results} null results, {direct_maps} direct mappings, \
         {trims} trims released memory; after freeing all and trimming: {stats:?}"
    );
    assert!(direct_maps > 50, "few large blocks: {direct_maps}");
    assert!(
        stats.free_bytes >= ARENA - (512 << 10),
        "memory did not come back to the arena: {stats:?}"
    );
}
