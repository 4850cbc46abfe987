//! A vector that grows by doubling, dropped and built again, as a program
//! running on Windows does it: with the thread cache, the small sizes come
//! from the cache and the thread's arena, the large ones from the global
//! heap. Windows has no `mremap`, so a large block in a mapping of its own
//! could grow only by a copy into a new mapping, fresh pages every round;
//! the core moves a growing block into the heap instead, whose memory the
//! next round reuses. After a few rounds (while the heap's trim threshold
//! adapts) building the vector maps nothing. 4 MiB: a vector's doublings
//! leave about 2.5 times its size in the heap's top, which a heap keeps
//! only up to 16 MiB on 32-bit targets (64 MiB on 64-bit ones).
#![cfg(windows)]

use dlmalloc::DLMalloc;
use dlmalloc_platform_windows::map_count;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// Builds a vector of `len` bytes a page at a time (so by doubling
/// reallocs), each page filled with a byte naming its round and place,
/// checks it and drops it.
fn build_and_drop(round: usize, len: usize) {
    const PAGE: usize = 4096;
    let page = |k: usize| [(k.wrapping_mul(31) ^ round) as u8; PAGE];
    let mut vector = Vec::new();
    for k in 0..len / PAGE {
        vector.extend_from_slice(&page(k));
    }
    assert!(
        vector
            .chunks(PAGE)
            .enumerate()
            .all(|(k, got)| got == page(k)),
        "round {round}: a byte was lost while the vector grew"
    );
}

#[test]
fn a_vector_built_over_and_over_stops_mapping() {
    let maps_per_round: Vec<usize> = (0..12)
        .map(|round| {
            let before = map_count();
            build_and_drop(round, 4 << 20);
            map_count() - before
        })
        .collect();
    assert!(
        maps_per_round[6..].iter().all(|&maps| maps == 0),
        "new mappings in each round: {maps_per_round:?}"
    );
}
