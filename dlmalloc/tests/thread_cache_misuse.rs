//! Misuse that the thread cache detects ends the process through the
//! platform's `custom_abort`, naming the problem: a double free of a small
//! block (the core cannot see it, since a cached block is still in use to
//! it) and a write into a freed block that breaks the cache's list. Each
//! case runs in a child process (this binary re-executed with
//! `DLM_CACHE_MISUSE=<case>`); the parent checks SIGABRT and the message.
#![cfg(any(target_os = "linux", windows))]

use core::alloc::{GlobalAlloc, Layout};
use dlmalloc::DLMalloc;
use dlmalloc_platform_std as _;
use dlmalloc_test_support::run_child;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

const CHILD_ENV: &str = "DLM_CACHE_MISUSE";

/// Performs one misuse; returns only if it went undetected.
fn misuse(case: &str) {
    let layout = Layout::from_size_align(48, 8).unwrap();
    // SAFETY: none; this is deliberate misuse of freed blocks, run only in
    // a child process that is expected to abort.
    unsafe {
        let block = DLMalloc.alloc(layout);
        assert!(!block.is_null());
        match case {
            "double_free" => {
                DLMalloc.dealloc(block, layout);
                DLMalloc.dealloc(block, layout);
            }
            "double_free_not_on_top" => {
                let other = DLMalloc.alloc(layout);
                DLMalloc.dealloc(block, layout);
                DLMalloc.dealloc(other, layout);
                DLMalloc.dealloc(block, layout);
            }
            "write_after_free" => {
                let other = DLMalloc.alloc(layout);
                DLMalloc.dealloc(other, layout);
                DLMalloc.dealloc(block, layout);
                // Change the cached block's link, then take blocks out. The
                // link is masked with a random secret, so a random overwrite
                // decodes to a misaligned address 15 times in 16; flipping
                // its lowest bit does so every time.
                let link = block.cast::<usize>();
                link.write(link.read() ^ 1);
                let first = DLMalloc.alloc(layout);
                let second = DLMalloc.alloc(layout);
                std::hint::black_box((first, second));
            }
            "double_free_queued" => {
                DLMalloc.dealloc(block, layout);
                double_free_of_a_block_queued_for_its_arena(layout);
            }
            "double_free_adopted" => {
                DLMalloc.dealloc(block, layout);
                double_free_of_a_block_its_owner_took_back(layout);
            }
            _ => panic!("unknown case {case}"),
        }
    }
}

/// A block of a live thread's arena, freed twice by a thread that no
/// longer caches its frees (a long run of frees made it bypass its cache),
/// so both frees go onto the owner's remote list: the second is caught
/// there.
///
/// # Safety
///
/// None; deliberate misuse, run only in a child process.
unsafe fn double_free_of_a_block_queued_for_its_arena(layout: Layout) {
    let (to_main, from_owner) = std::sync::mpsc::channel::<usize>();
    let (to_owner, owner_waits) = std::sync::mpsc::channel::<()>();
    let owner = std::thread::spawn(move || {
        // SAFETY: a non-zero size.
        let block = unsafe { DLMalloc.alloc(layout) };
        to_main.send(block as usize).unwrap();
        owner_waits.recv().ok(); // stays alive, so its arena is in use
    });
    let block = from_owner.recv().unwrap() as *mut u8;
    // SAFETY: deliberate misuse (the contract of this function).
    unsafe {
        bypass_own_cache(layout);
        DLMalloc.dealloc(block, layout);
        DLMalloc.dealloc(block, layout);
    }
    to_owner.send(()).ok();
    owner.join().ok();
}

/// Frees a run of blocks, so that this thread's cache steps aside and its
/// next frees of other arenas' blocks go onto their remote lists.
///
/// # Safety
///
/// None beyond `layout` having a non-zero size.
unsafe fn bypass_own_cache(layout: Layout) {
    // SAFETY: fresh blocks, freed once each.
    unsafe {
        let run: Vec<*mut u8> = (0..5000).map(|_| DLMalloc.alloc(layout)).collect();
        for b in run {
            DLMalloc.dealloc(b, layout);
        }
    }
}

/// A block that another thread freed onto its owner's remote list, which
/// the owner's cache then took back on a miss of another size class, freed
/// again by its owner: the tag it kept from the queue catches the second
/// free in the owner's cache.
///
/// # Safety
///
/// None; deliberate misuse, run only in a child process.
unsafe fn double_free_of_a_block_its_owner_took_back(layout: Layout) {
    let (to_main, from_owner) = std::sync::mpsc::channel::<usize>();
    let (to_owner, owner_waits) = std::sync::mpsc::channel::<()>();
    let owner = std::thread::spawn(move || {
        // SAFETY: a non-zero size.
        let block = unsafe { DLMalloc.alloc(layout) };
        to_main.send(block as usize).unwrap();
        owner_waits.recv().unwrap();
        // A first request of another class misses, and the miss takes the
        // remote list (the block) into the cache.
        let other = Layout::from_size_align(200, 8).unwrap();
        // SAFETY: a non-zero size; then the second free of `block`.
        unsafe {
            std::hint::black_box(DLMalloc.alloc(other));
            DLMalloc.dealloc(block, layout);
        }
    });
    let block = from_owner.recv().unwrap() as *mut u8;
    // SAFETY: `block` is live; this is its first free.
    unsafe {
        bypass_own_cache(layout);
        DLMalloc.dealloc(block, layout);
    }
    to_owner.send(()).unwrap();
    owner.join().ok();
}

/// Runs `case` in a child and asserts that it died by SIGABRT, naming
/// `message`.
fn assert_aborted_with(case: &str, message: &str) {
    let out = run_child("child_entry", CHILD_ENV, case);
    dlmalloc_test_support::assert_aborted_with(case, &out, message);
}

/// The child's entry: does the misuse named by the environment, if any.
#[test]
fn child_entry() {
    dlmalloc_test_support::child_entry(CHILD_ENV, misuse);
}

#[test]
fn double_free_is_detected() {
    assert_aborted_with("double_free", "thread cache: double free");
}

#[test]
fn double_free_of_a_block_queued_for_its_arena_is_detected() {
    assert_aborted_with("double_free_queued", "thread cache: double free");
}

#[test]
fn double_free_of_a_block_its_owner_took_back_is_detected() {
    assert_aborted_with("double_free_adopted", "thread cache: double free");
}

#[test]
fn double_free_behind_another_cached_block_is_detected() {
    assert_aborted_with("double_free_not_on_top", "thread cache: double free");
}

#[test]
fn overwritten_link_is_detected() {
    assert_aborted_with("write_after_free", "thread cache: corrupted free list");
}
