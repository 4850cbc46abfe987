//! `Mspace` (a heap of its own) over the wasm platform: collections in it
//! through allocator-api2, its statistics and heap check, and the memory of
//! a dropped mspace going back to the platform, which hands it out again:
//! creating and dropping heaps in a loop must not grow linear memory
//! without bound (it never shrinks).

use allocator_api2::vec::Vec;
use dlmalloc::{DLMalloc, Mspace};
use dlmalloc_platform_wasm::memory_stats;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// Fills a heap of its own with a vector of `len` words and checks them.
fn use_a_heap(len: usize) {
    let heap = Mspace::new(0);
    let mut words: Vec<u32, &Mspace> = Vec::new_in(&heap);
    for i in 0..len {
        words.push(i as u32 ^ 0x5A5A_5A5A);
    }
    assert!(
        words
            .iter()
            .enumerate()
            .all(|(i, &w)| w == i as u32 ^ 0x5A5A_5A5A)
    );
    let stats = heap.stats();
    assert!(stats.in_use_bytes >= len * 4);
    assert!(stats.footprint >= stats.in_use_bytes);
    heap.heap_check().unwrap();
}

#[test]
fn collections_live_in_an_mspace_with_true_statistics() {
    let heap = Mspace::new(0);
    // An empty mspace counts its own state as in use.
    let empty = heap.stats();
    let mut strings: Vec<Vec<u8, &Mspace>, &Mspace> = Vec::new_in(&heap);
    for i in 0..200 {
        let mut s = Vec::new_in(&heap);
        s.extend((0..i).map(|j| (i + j) as u8));
        strings.push(s);
    }
    for (i, s) in strings.iter().enumerate() {
        assert!(s.iter().enumerate().all(|(j, &b)| b == (i + j) as u8));
    }
    assert!(heap.stats().in_use_bytes > empty.in_use_bytes + 200 * 100);
    heap.heap_check().unwrap();
    drop(strings);
    assert_eq!(heap.stats().in_use_bytes, empty.in_use_bytes);
    heap.heap_check().unwrap();
}

#[test]
fn memory_of_dropped_mspaces_is_reused() {
    // 2 MiB of words per heap, so every heap grows several times.
    const WORDS: usize = 512 * 1024;
    use_a_heap(WORDS);
    let after_one = memory_stats();
    for _ in 0..40 {
        use_a_heap(WORDS);
    }
    let after_many = memory_stats();
    // Forty heaps of over 2 MiB each would need 80 MiB more without reuse.
    assert!(
        after_many.memory_size <= after_one.memory_size + (4 << 20),
        "memory grew from {} to {} bytes",
        after_one.memory_size,
        after_many.memory_size
    );
    assert!(after_many.handed_out <= after_one.handed_out + (4 << 20));
}
