//! The workload that `scripts/instructions.sh` runs under callgrind to count
//! the instructions of one allocation/free pair per allocator: `ROUNDS`
//! pairs of `SIZE` bytes through the allocator's `GlobalAlloc` impl, called
//! directly (statically dispatched, inlined as in a program that declares
//! it global). The script runs it twice with different round counts and
//! divides the difference by the extra rounds, so start-up and set-up
//! cancel out.
//!
//! Usage: `pair_instructions ALLOCATOR SIZE ROUNDS`, with ALLOCATOR one of
//! `ours`, `glibc`, `mimalloc`, `jemalloc`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;

use dlmalloc_platform_std as _;

/// `rounds` allocate/free pairs of `layout`, each block touched once so the
/// pair cannot be optimised away.
#[inline(never)]
fn pairs<A: GlobalAlloc>(allocator: &A, layout: Layout, rounds: usize) {
    for round in 0..rounds {
        // SAFETY: `layout` has a non-zero size (checked in main).
        let block = unsafe { allocator.alloc(black_box(layout)) };
        assert!(!block.is_null(), "out of memory");
        // SAFETY: the block has at least one byte.
        unsafe { block.write(round as u8) };
        // SAFETY: allocated above with this layout, freed once.
        unsafe { allocator.dealloc(black_box(block), layout) };
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, allocator, size, rounds] = &args[..] else {
        eprintln!("usage: pair_instructions ours|glibc|mimalloc|jemalloc SIZE ROUNDS");
        std::process::exit(2);
    };
    let size: usize = size.parse().expect("SIZE is a number of bytes");
    let rounds: usize = rounds.parse().expect("ROUNDS is a number");
    assert!(size > 0, "SIZE must be at least 1");
    let layout = Layout::from_size_align(size, 8).expect("a valid layout");
    match allocator.as_str() {
        "ours" => pairs(&dlmalloc::DLMalloc, layout, rounds),
        "glibc" => pairs(&System, layout, rounds),
        "mimalloc" => pairs(&mimalloc::MiMalloc, layout, rounds),
        "jemalloc" => pairs(&tikv_jemallocator::Jemalloc, layout, rounds),
        other => {
            eprintln!("pair_instructions: unknown allocator {other}");
            std::process::exit(2);
        }
    }
}
