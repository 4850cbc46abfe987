//! A wasm32-unknown-unknown module whose heap is `DLMalloc` over
//! `dlmalloc-platform-wasm`, with a few exported functions that
//! `drive.mjs` calls from Node:
//!
//! - `blocks_checksum(n, size)`: allocates `n` blocks of sizes around
//!   `size`, fills each with a pattern, verifies them all, frees them and
//!   returns the sum of their bytes (the driver computes the same sum);
//!   `u32::MAX` if an allocation failed or a block lost its pattern.
//! - `try_alloc(size)` / `free_block(ptr, size)`: allocation through the global
//!   allocator (0 for null); `raw_malloc(size)`: the C API's `dlmalloc`.
//! - `footprint()`, `in_use()`, `handed_out()`, `heap_start()`,
//!   `heap_check()`: statistics and the heap walk (1 if clean).
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;
use dlmalloc_platform_wasm::memory_stats;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// A panic traps: the driver sees a `RuntimeError`.
#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// The byte at offset `j` of block `i` (the driver uses the same formula).
fn pattern(i: usize, j: usize) -> u8 {
    (i.wrapping_mul(31).wrapping_add(j.wrapping_mul(7))) as u8
}

/// The size of block `i` of a run with base size `size`.
fn block_size(i: usize, size: usize) -> usize {
    size + i % 17
}

/// See the module docs.
#[unsafe(no_mangle)]
pub extern "C" fn blocks_checksum(n: u32, size: u32) -> u32 {
    let (n, size) = (n as usize, size as usize);
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    if blocks.try_reserve_exact(n).is_err() {
        return u32::MAX;
    }
    for i in 0..n {
        let len = block_size(i, size);
        let mut block = Vec::new();
        if block.try_reserve_exact(len).is_err() {
            return u32::MAX;
        }
        block.extend((0..len).map(|j| pattern(i, j)));
        blocks.push(block);
    }
    let mut sum = 0u32;
    for (i, block) in blocks.iter().enumerate() {
        for (j, &byte) in block.iter().enumerate() {
            if byte != pattern(i, j) {
                return u32::MAX;
            }
            sum = sum.wrapping_add(u32::from(byte));
        }
    }
    sum
}

/// Allocates `size` bytes (8-aligned); returns the address, 0 on failure.
#[unsafe(no_mangle)]
pub extern "C" fn try_alloc(size: u32) -> u32 {
    let Ok(layout) = Layout::from_size_align(size.max(1) as usize, 8) else {
        return 0;
    };
    // SAFETY: a non-zero size.
    unsafe { GLOBAL.alloc(layout) as u32 }
}

/// `dlmalloc(size)` of the raw C API, as C code would call it: any size,
/// also beyond `isize::MAX`. Returns the address, 0 on failure.
#[unsafe(no_mangle)]
pub extern "C" fn raw_malloc(size: u32) -> u32 {
    // SAFETY: the C API takes any size.
    unsafe { dlmalloc::raw::dlmalloc(size as usize) as u32 }
}

/// Frees a block from [`try_alloc`] of the same `size`.
///
/// # Safety
///
/// `ptr` must come from `try_alloc(size)` and not be freed yet; anything
/// else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free_block(ptr: u32, size: u32) {
    let layout = Layout::from_size_align(size.max(1) as usize, 8).unwrap();
    // SAFETY: the caller guarantees a live block of this layout.
    unsafe { GLOBAL.dealloc(ptr as *mut u8, layout) }
}

/// The heap's footprint in bytes.
#[unsafe(no_mangle)]
pub extern "C" fn footprint() -> u32 {
    GLOBAL.stats().footprint as u32
}

/// Bytes in live blocks (with their headers).
#[unsafe(no_mangle)]
pub extern "C" fn in_use() -> u32 {
    GLOBAL.stats().in_use_bytes as u32
}

/// Bytes the platform handed out to the heap.
#[unsafe(no_mangle)]
pub extern "C" fn handed_out() -> u32 {
    memory_stats().handed_out as u32
}

/// Where the platform's memory starts (after `__heap_base`).
#[unsafe(no_mangle)]
pub extern "C" fn heap_start() -> u32 {
    memory_stats().heap_start as u32
}

/// 1 if the heap walk finds no problem, 0 otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn heap_check() -> u32 {
    u32::from(GLOBAL.heap_check().is_ok())
}
