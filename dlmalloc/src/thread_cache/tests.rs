//! A program may store in a block's second word the very value the cache
//! writes there when the block is given up (its tag, `bins::tag_of`): a
//! fuzzer that watches comparisons learned it and did. Such a free is not
//! a double free; these tests free such blocks through each path that
//! reads the tag and check that nothing is reported and nothing is lost.
//! (That a real double free is still reported is `tests/thread_cache_misuse.rs`.)

extern crate std;

use core::alloc::{GlobalAlloc, Layout};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::vec::Vec;

use dlmalloc_platform_std as _;

use super::{CACHE, arenas, bins, secret};
use crate::DLMalloc;

/// The tests compare the heaps' statistics before and after, so they run
/// one at a time (they are this binary's only users of `DLMalloc`).
static SERIAL: Mutex<()> = Mutex::new(());

/// Writes `block`'s own given-up tag into its second word, as the program
/// the fuzzer wrote did.
///
/// # Safety
///
/// `block` is a live block of at least two words.
unsafe fn store_own_tag(block: *mut u8) {
    // SAFETY: the caller's contract.
    unsafe {
        block
            .cast::<usize>()
            .add(1)
            .write(bins::tag_of(block, secret()))
    };
}

/// Bytes in use in all the heaps, with every cache given back, after
/// this thread has allocated a block of `layout` (which sets up its cache
/// and arena, and their own blocks).
fn in_use_after_warming_up(layout: Layout) -> usize {
    // SAFETY: a non-zero size, freed at once.
    unsafe { DLMalloc.dealloc(DLMalloc.alloc(layout), layout) };
    DLMalloc.stats().in_use_bytes
}

#[test]
fn a_cached_size_block_holding_its_own_tag_is_freed_into_the_cache() {
    let _serial = SERIAL.lock().unwrap();
    let layout = Layout::from_size_align(48, 8).unwrap();
    // SAFETY: a non-zero size; the block is live until its free, and the
    // address compared after it is not dereferenced.
    unsafe {
        let block = DLMalloc.alloc(layout);
        assert!(!block.is_null());
        store_own_tag(block);
        DLMalloc.dealloc(block, layout);
        // The cache took it (it hands out its newest block first).
        let again = DLMalloc.alloc(layout);
        assert_eq!(again, block, "the freed block was not cached");
        DLMalloc.dealloc(again, layout);
    }
}

#[test]
fn a_block_holding_its_own_tag_is_freed_into_a_full_class() {
    let _serial = SERIAL.lock().unwrap();
    let layout = Layout::from_size_align(80, 8).unwrap();
    let class = bins::class_for_request(layout.size());
    let class_is_full =
        // SAFETY: this thread's own bins, read while it is not using them.
        || CACHE.with(|cache| unsafe { (*cache.bins.get()).is_full(class) });
    let before = in_use_after_warming_up(layout);
    // SAFETY: non-zero sizes; each block is freed once.
    unsafe {
        let blocks: Vec<*mut u8> = (0..4 * bins::MAX_PER_CLASS)
            .map(|_| DLMalloc.alloc(layout))
            .collect();
        assert!(blocks.iter().all(|block| !block.is_null()));
        let mut freed = 0;
        while !class_is_full() {
            DLMalloc.dealloc(blocks[freed], layout);
            freed += 1;
        }
        // This free evicts the class's older half, the path that checks
        // the tag before it changes the class.
        store_own_tag(blocks[freed]);
        for &block in &blocks[freed..] {
            DLMalloc.dealloc(block, layout);
        }
    }
    assert_eq!(DLMalloc.stats().in_use_bytes, before, "blocks were lost");
}

#[test]
fn an_arena_block_holding_its_own_tag_is_queued_for_its_owner() {
    let _serial = SERIAL.lock().unwrap();
    // Above the cache's sizes, served by the allocating thread's arena.
    let layout = Layout::from_size_align(64 << 10, 8).unwrap();
    let (to_main, from_owner) = mpsc::channel::<[usize; 2]>();
    let (to_owner, owner_waits) = mpsc::channel::<()>();
    let owner = thread::spawn(move || {
        // SAFETY: non-zero sizes.
        let blocks = unsafe { [DLMalloc.alloc(layout), DLMalloc.alloc(layout)] };
        to_main.send(blocks.map(|block| block as usize)).unwrap();
        // Stays alive, so its arena is in use and a free from another
        // thread is queued for it: the path that reads the tag.
        owner_waits.recv().unwrap();
    });
    let [plain, tagged] = from_owner.recv().unwrap().map(|block| block as *mut u8);
    assert!(arenas::owner_of(tagged).is_some(), "not an arena's block");
    // (The statistics free what waits on the remote lists first.)
    let holding_both = DLMalloc.stats().in_use_bytes;
    // SAFETY: the owner's live blocks, handed over and freed once here.
    unsafe {
        DLMalloc.dealloc(plain, layout);
        let holding_one = DLMalloc.stats().in_use_bytes;
        store_own_tag(tagged);
        DLMalloc.dealloc(tagged, layout);
        let freed = DLMalloc.stats().in_use_bytes;
        assert_eq!(
            holding_one - freed,
            holding_both - holding_one,
            "the tagged block was not freed as the plain one was"
        );
    }
    to_owner.send(()).unwrap();
    owner.join().unwrap();
    assert!(DLMalloc.heap_check().is_ok());
}
