//! With the `nightly` feature (nightly Rust), `&Mspace` is also a
//! `core::alloc::Allocator`: the standard library's own `Vec` and `Box`
//! allocate in it. Without the feature this file is empty.
#![cfg(feature = "nightly")]
#![cfg_attr(feature = "nightly", feature(allocator_api))]

use dlmalloc::Mspace;
use dlmalloc_platform_std as _;

#[test]
fn std_collections_allocate_in_an_mspace() {
    let heap = Mspace::new(1 << 20);
    let in_use = heap.stats().in_use_bytes;
    let mut v: Vec<u64, &Mspace> = Vec::new_in(&heap);
    v.extend(0..10_000);
    let b = Box::new_in([3u8; 1000], &heap);
    assert!(heap.stats().in_use_bytes >= in_use + 80_000 + 1000);
    v.shrink_to_fit();
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
    assert!(b.iter().all(|&x| x == 3));
    drop((v, b));
    assert_eq!(heap.stats().in_use_bytes, in_use);
    heap.heap_check().unwrap();
}
