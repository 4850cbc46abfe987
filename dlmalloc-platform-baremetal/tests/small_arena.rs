//! A 64 KiB static arena with the default build settings (2 MiB
//! granularity) is usable to more than 90%: in small blocks, and in one
//! block. The core starts with a 64 KiB segment and retries with the bare
//! need when a larger mapping fails, so the granularity never gets in the way.
//!
//! Per-chunk overhead is the only limit left: a block costs its size plus one
//! header word, rounded up to the alignment (two words), so 32-byte requests
//! take 48-byte chunks on a 64-bit target and can never fill more than 2/3 of
//! any arena with requested bytes. The tests assert more than 90% with small
//! blocks whose chunks carry little padding (120 and 248 bytes), and, for
//! 16-, 32- and 64-byte blocks, that their chunks cover more than 99% of the
//! arena (the requested share then is the chunk format's bound).

use std::ffi::c_void;
use std::mem::size_of;

use dlmalloc::DLMalloc;
use dlmalloc_platform_baremetal::arena_stats;
use dlmalloc_sys::{dlfree, dlmalloc, dlmalloc_usable_size};
// The tests share the one heap: they run one at a time, each leaving it empty.
use dlmalloc_test_support::serial;

const ARENA: usize = 64 * 1024;
dlmalloc_platform_baremetal::static_arena!(ARENA);

/// What filling the heap with one block size achieved.
struct Fill {
    blocks: Vec<*mut c_void>,
    requested: usize,
    /// Bytes in the blocks' chunks (usable size plus the header word).
    chunk_bytes: usize,
}

/// Allocates `size`-byte blocks until the heap is full, writing each.
fn fill(size: usize) -> Fill {
    let mut blocks = Vec::new();
    let mut chunk_bytes = 0;
    loop {
        // SAFETY: a plain allocation.
        let p = unsafe { dlmalloc(size) };
        if p.is_null() {
            break;
        }
        // SAFETY: `p` is a live block of at least `size` bytes.
        unsafe {
            p.cast::<u8>().write_bytes(0xC3, size);
            chunk_bytes += dlmalloc_usable_size(p) + size_of::<usize>();
        }
        blocks.push(p);
    }
    Fill {
        requested: blocks.len() * size,
        blocks,
        chunk_bytes,
    }
}

/// Frees every block, checks the heap, and checks the arena is intact.
fn empty(fill: Fill, size: usize) {
    for p in fill.blocks {
        // SAFETY: each block was allocated by `fill` and is freed once; it
        // still holds its pattern.
        unsafe {
            assert_eq!(p.cast::<u8>().add(size - 1).read(), 0xC3);
            dlfree(p);
        }
    }
    DLMalloc.heap_check().unwrap();
    let stats = arena_stats();
    assert_eq!((stats.total_bytes, stats.regions), (ARENA, 1));
}

fn percent(part: usize) -> f64 {
    100.0 * part as f64 / ARENA as f64
}

#[test]
fn small_blocks_fill_more_than_90_percent() {
    let _serial = serial();
    for size in [120, 248] {
        let fill = fill(size);
        println!(
            "{size}-byte blocks: {} blocks, {} bytes requested ({:.1}% of {ARENA})",
            fill.blocks.len(),
            fill.requested,
            percent(fill.requested)
        );
        assert!(
            fill.requested * 10 > ARENA * 9,
            "{size}-byte blocks: only {} of {ARENA} bytes ({:.1}%)",
            fill.requested,
            percent(fill.requested)
        );
        // The whole arena went to the heap: the granularity did not matter.
        assert_eq!(arena_stats().free_bytes, 0);
        assert_eq!(DLMalloc.stats().footprint, ARENA);
        empty(fill, size);
    }
}

#[test]
fn tiny_blocks_cover_the_arena_with_chunks() {
    let _serial = serial();
    for size in [16, 32, 64] {
        let fill = fill(size);
        println!(
            "{size}-byte blocks: {} blocks, {} bytes requested ({:.1}%), chunks {:.1}% of {ARENA}",
            fill.blocks.len(),
            fill.requested,
            percent(fill.requested),
            percent(fill.chunk_bytes)
        );
        assert!(
            fill.chunk_bytes * 100 > ARENA * 99,
            "{size}-byte blocks: chunks cover only {:.1}%",
            percent(fill.chunk_bytes)
        );
        empty(fill, size);
    }
}

#[test]
fn one_block_takes_more_than_80_percent() {
    let _serial = serial();
    // The largest single block, by bisection.
    let (mut fits, mut fails) = (0, ARENA);
    while fits + 1 < fails {
        let mid = (fits + fails) / 2;
        // SAFETY: a plain allocation, freed at once.
        let p = unsafe { dlmalloc(mid) };
        if p.is_null() {
            fails = mid;
        } else {
            // SAFETY: `p` is a live block of `mid` bytes, freed once.
            unsafe {
                p.cast::<u8>().write_bytes(0x3C, mid);
                dlfree(p);
            }
            fits = mid;
        }
    }
    println!(
        "largest block: {fits} bytes ({:.2}% of {ARENA})",
        percent(fits)
    );
    assert!(
        fits * 10 > ARENA * 8,
        "the largest block is {fits} bytes ({:.1}%)",
        percent(fits)
    );
    DLMalloc.heap_check().unwrap();
}
