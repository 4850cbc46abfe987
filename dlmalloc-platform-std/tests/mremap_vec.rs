//! A `Vec` on the dlmalloc global allocator that doubles from 1 MiB to
//! 64 MiB grows its one mapping through `custom_mremap`: no new mapping and
//! no copy per doubling, and the contents survive every step.
#![cfg(target_os = "linux")]

use dlmalloc_platform_std::{map_count, remap_count};

#[global_allocator]
static GLOBAL: dlmalloc::DLMalloc = dlmalloc::DLMalloc;

const MIB: usize = 1 << 20;

#[test]
fn a_doubling_vec_remaps_instead_of_copying() {
    let mut v: Vec<u64> = Vec::with_capacity(MIB / 8);
    let maps = map_count();
    let remaps = remap_count();
    let mut moved = 0;
    let mut copied_bytes = 0;
    while v.capacity() * 8 < 64 * MIB {
        let len = v.len() as u64;
        v.extend(len..v.capacity() as u64);
        let (before, maps_before) = (v.as_ptr(), map_count());
        v.reserve_exact(v.capacity());
        if v.as_ptr() != before {
            moved += 1;
        }
        if map_count() != maps_before {
            copied_bytes += v.len() * 8;
        }
    }
    let new_maps = map_count() - maps;
    let new_remaps = remap_count() - remaps;
    eprintln!(
        "1 MiB -> {} MiB: {new_maps} new mappings, {new_remaps} remaps, {moved} moves, \
         {copied_bytes} bytes copied",
        v.capacity() * 8 / MIB
    );
    assert_eq!(v.capacity() * 8, 64 * MIB);
    assert!(v.iter().zip(0..).all(|(&x, i)| x == i), "contents lost");
    assert_eq!(new_maps, 0, "doubling mapped new memory");
    assert_eq!(new_remaps, 6, "six doublings, six remaps");
    assert_eq!(copied_bytes, 0);
}
