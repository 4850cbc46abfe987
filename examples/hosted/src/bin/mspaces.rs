//! Independent heaps (mspaces) through the `allocator-api2` collections.
//!
//! Run with `cargo run --release -p examples --bin mspaces`. Four threads
//! each build a heap of their own, fill `Vec`s and `Box`es in it, verify
//! them, report the heap's statistics and drop it (which returns every page
//! at once). Then one heap lives in a 256 KiB static buffer that it may not
//! grow beyond: the program allocates until the heap says no and reports
//! how much of the buffer was usable. Exit status 1 if a heap check fails.

use std::mem::MaybeUninit;
use std::process::ExitCode;
use std::ptr::{NonNull, addr_of_mut};
use std::thread;

use allocator_api2::alloc::{Allocator, Layout};
use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use dlmalloc::{Growth, HeapCheckError, Mspace, Stats};
use dlmalloc_platform_std as _; // the hosted platform: pages, locks, abort

const THREADS: u64 = 4;
const BUFFER_SIZE: usize = 256 << 10;

/// The memory of the fixed heap. Only `fixed_heap` touches it, once.
static mut BUFFER: [MaybeUninit<u8>; BUFFER_SIZE] = [MaybeUninit::uninit(); BUFFER_SIZE];

/// What a worker's heap looked like before it was dropped.
struct Report {
    blocks: usize,
    stats: Stats,
    check: Result<(), HeapCheckError>,
}

/// Builds collections in a heap of this thread's own and verifies them.
fn worker(id: u64) -> Report {
    let heap = Mspace::new(1 << 20);

    // Vectors of varied lengths, some grown step by step.
    let mut vectors: Vec<Vec<u64, &Mspace>, &Mspace> = Vec::new_in(&heap);
    for n in 0..200u64 {
        let len = ((n * 7919 + id * 104_729) % 5000) as usize;
        let mut v = Vec::new_in(&heap);
        v.extend((0..len as u64).map(|i| i ^ (id << 32)));
        vectors.push(v);
    }
    // Boxed records and byte buffers.
    let records: Vec<Box<(u64, [u8; 48]), &Mspace>, &Mspace> = {
        let mut records = Vec::with_capacity_in(1000, &heap);
        for n in 0..1000u64 {
            records.push(Box::new_in((n, [id as u8; 48]), &heap));
        }
        records
    };
    let mut text: Vec<u8, &Mspace> = Vec::new_in(&heap);
    for n in 0..2000 {
        text.extend_from_slice(format!("thread {id} line {n}\n").as_bytes());
    }

    for v in &vectors {
        assert!(
            v.iter()
                .enumerate()
                .all(|(i, &x)| x == i as u64 ^ (id << 32))
        );
    }
    for (n, record) in records.iter().enumerate() {
        assert_eq!(record.0, n as u64);
        assert!(record.1.iter().all(|&b| b == id as u8));
    }
    assert!(text.starts_with(format!("thread {id} line 0\n").as_bytes()));

    let blocks = vectors.len() + 1 + records.len() + 1 + 1;
    let report = Report {
        blocks,
        stats: heap.stats(),
        check: heap.heap_check(),
    };
    drop((vectors, records, text));
    report // `heap` is dropped here: all its pages go back at once
}

/// What the fixed heap managed to hold.
struct Fixed {
    blocks: usize,
    bytes: usize,
    check: Result<(), HeapCheckError>,
}

/// Allocates blocks of 100 to 1000 bytes from a heap in the static buffer
/// until it is full.
fn fixed_heap() -> Fixed {
    // SAFETY: this is the only use of BUFFER and it runs once.
    let buffer = unsafe { &mut *addr_of_mut!(BUFFER) };
    let heap = Mspace::from_static(buffer, Growth::Fixed).expect("256 KiB hold a heap");
    let alloc = &heap;

    let mut blocks: std::vec::Vec<(NonNull<u8>, Layout)> = std::vec::Vec::new();
    let mut bytes = 0;
    for n in 0.. {
        let layout = Layout::from_size_align(100 + (n * 37) % 900, 8).expect("a valid layout");
        match alloc.allocate(layout) {
            Ok(block) => {
                let block = block.cast::<u8>();
                // SAFETY: a fresh block of `layout.size()` bytes.
                unsafe { block.write_bytes(n as u8, layout.size()) };
                blocks.push((block, layout));
                bytes += layout.size();
            }
            Err(_) => break, // full: the heap may not map more memory
        }
    }
    let check = heap.heap_check();
    for (n, &(block, layout)) in blocks.iter().enumerate() {
        // SAFETY: a live block of `layout.size()` bytes.
        let contents = unsafe { std::slice::from_raw_parts(block.as_ptr(), layout.size()) };
        assert!(
            contents.iter().all(|&b| b == n as u8),
            "block {n} clobbered"
        );
        // SAFETY: the block came from `alloc` with this layout; freed once.
        unsafe { alloc.deallocate(block, layout) };
    }
    Fixed {
        blocks: blocks.len(),
        bytes,
        check,
    }
}

fn main() -> ExitCode {
    let mapped_before = dlmalloc_platform_std::mapped_bytes();
    let workers: std::vec::Vec<_> = (0..THREADS)
        .map(|id| thread::spawn(move || worker(id)))
        .collect();
    let mut failed = false;
    for (id, worker) in workers.into_iter().enumerate() {
        let report = worker.join().expect("a worker panicked");
        println!(
            "thread {id}: {} blocks in its own heap, verified; its statistics:",
            report.blocks
        );
        println!("{}\n", report.stats);
        if let Err(error) = report.check {
            eprintln!("thread {id}: {error}");
            failed = true;
        }
    }
    println!(
        "after the {THREADS} heaps were dropped, {} bytes are mapped (before: {mapped_before})",
        dlmalloc_platform_std::mapped_bytes()
    );

    let maps_before = dlmalloc_platform_std::map_count();
    let fixed = fixed_heap();
    println!(
        "\nfixed heap in a {} KiB static buffer: {} blocks, {} bytes ({:.1}% of the buffer) \
         until allocation failed; {} new mappings",
        BUFFER_SIZE >> 10,
        fixed.blocks,
        fixed.bytes,
        fixed.bytes as f64 * 100.0 / BUFFER_SIZE as f64,
        dlmalloc_platform_std::map_count() - maps_before
    );
    if let Err(error) = fixed.check {
        eprintln!("fixed heap: {error}");
        failed = true;
    }

    if failed {
        ExitCode::FAILURE
    } else {
        println!("\nheap checks: ok");
        ExitCode::SUCCESS
    }
}
