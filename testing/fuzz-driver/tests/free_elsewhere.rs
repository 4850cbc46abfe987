//! Runs the driver on a hand-made program for "free_elsewhere" (in its own
//! process, so that its helper thread's arena is made as in a fresh fuzzing
//! process).

use dlmalloc_platform_std as _;
use dlmalloc_test_support::serial;

/// A program that takes "free_elsewhere" down every path a block of the
/// driver thread's arena has to its arena's remote-free list, on the global
/// heap (heap 0 of the default configuration): 40 mallocs of 64 bytes
/// through `DLMalloc`, then one batch of all of them to the helper (whose
/// class fills, so its older half is evicted: 16 blocks pushed at once);
/// a malloc (the driver's miss drains the list); 64 mallocs of 32 KiB, freed
/// by the helper in batches of 40 and 25 (the large class evicts every
/// other free; the 63rd free ends the streak, so the helper gives its
/// whole cache back, and the last ones bypass it); a malloc and the
/// statistics (a flush drains the list); the run's end (the helper's exit
/// gives back what it cached). The decoding is the driver's (`step`).
#[test]
fn free_elsewhere_reaches_the_remote_lists() {
    let _turn = serial();
    // Heap 0, malloc, a size, through DLMalloc with alignment 1.
    let small = [0, 0, 0, 64, 0, 1, 0];
    let large = [0, 0, 25, 0, 0x20, 0, 1, 0];
    // Heap 0, free_elsewhere, a batch of `n` (the first live blocks), each
    // with alignment 1, without the helper's own malloc.
    let batch = |n: u8| {
        let mut bytes = vec![0, 12, 0, n - 1];
        bytes.extend(std::iter::repeat_n(0, 2 * usize::from(n)));
        bytes.push(1);
        bytes
    };
    let mut data = Vec::new();
    (0..40).for_each(|_| data.extend(small));
    data.extend(batch(40));
    data.extend(small);
    (0..64).for_each(|_| data.extend(large));
    data.extend(batch(40));
    data.extend(batch(25));
    data.extend(small);
    data.extend([0, 16]);
    let outcome = dlmalloc_fuzz_driver::run(&data);
    assert_eq!(outcome.operations, 40 + 1 + 1 + 64 + 2 + 1 + 1);
    assert_eq!(outcome.refused, 0);
}
