//! `&Mspace` as an `allocator-api2` `Allocator`: its `Vec`, `Box` and
//! hashbrown's `HashMap` live in the heap; grow and shrink stay in place when
//! the chunk allows; zero-size layouts work; zeroed memory is zero.

use allocator_api2::alloc::{Allocator, Layout};
use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use core::ptr::NonNull;

use dlmalloc::Mspace;
use dlmalloc_platform_std as _;

/// A type that asks for more than the default alignment.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(align(64))]
struct Line([u8; 64]);

#[test]
fn vec_box_and_hashmap_live_in_the_heap() {
    let heap = Mspace::new(1 << 20);
    let before = heap.stats().in_use_bytes;

    let mut numbers: Vec<u64, _> = Vec::new_in(&heap);
    numbers.extend((0..10_000u64).map(|i| i * 3));
    let boxed = Box::new_in([7u32; 256], &heap);
    let mut map = hashbrown::HashMap::new_in(&heap);
    for i in 0..5000u32 {
        map.insert(i, Box::new_in(i.to_le_bytes(), &heap));
    }
    assert!(heap.stats().in_use_bytes >= before + 10_000 * 8 + 1024 + 5000 * 8);

    assert!(numbers.iter().enumerate().all(|(i, &x)| x == i as u64 * 3));
    assert!(boxed.iter().all(|&x| x == 7));
    for i in 0..5000u32 {
        assert_eq!(*map[&i], i.to_le_bytes());
    }
    heap.heap_check().unwrap();

    drop((numbers, boxed, map));
    assert_eq!(heap.stats().in_use_bytes, before);
    heap.heap_check().unwrap();
}

#[test]
fn grow_extends_in_place_into_top() {
    let heap = Mspace::new(1 << 20);
    // The newest block of a fresh heap borders top, so it can grow in place.
    let mut bytes: Vec<u8, _> = Vec::with_capacity_in(1000, &heap);
    bytes.extend((0..1000).map(|i| i as u8));
    let before = bytes.as_ptr();
    bytes.reserve_exact(200_000);
    assert_eq!(bytes.as_ptr(), before, "default alignment: grew by moving");
    assert!(bytes.iter().enumerate().all(|(i, &b)| b == i as u8));
    drop(bytes);

    // Over-aligned: grown with realloc_in_place.
    let mut lines: Vec<Line, _> = Vec::with_capacity_in(16, &heap);
    lines.extend((0..16).map(|i| Line([i; 64])));
    let before = lines.as_ptr();
    assert_eq!(before as usize % 64, 0);
    lines.reserve_exact(1000);
    assert_eq!(lines.as_ptr(), before, "64-byte alignment: grew by moving");
    assert!(
        lines
            .iter()
            .enumerate()
            .all(|(i, l)| *l == Line([i as u8; 64]))
    );
    heap.heap_check().unwrap();
}

#[test]
fn shrink_to_fit_keeps_the_block() {
    let heap = Mspace::new(1 << 20);
    let mut bytes: Vec<u8, _> = Vec::with_capacity_in(100_000, &heap);
    bytes.extend_from_slice(&[9; 10]);
    let before = bytes.as_ptr();
    bytes.shrink_to_fit();
    assert_eq!(bytes.capacity(), 10);
    assert_eq!(bytes.as_ptr(), before);
    assert_eq!(&bytes[..], &[9; 10]);

    let mut lines: Vec<Line, _> = Vec::with_capacity_in(1000, &heap);
    lines.push(Line([5; 64]));
    let before = lines.as_ptr();
    lines.shrink_to_fit();
    assert_eq!(lines.as_ptr(), before);
    assert_eq!(lines[0], Line([5; 64]));

    // The freed tails are usable again.
    let reused: Vec<u8, _> = Vec::with_capacity_in(50_000, &heap);
    assert!(reused.capacity() >= 50_000);
    heap.heap_check().unwrap();
}

#[test]
fn a_move_keeps_contents_and_alignment() {
    let heap = Mspace::new(1 << 20);
    let mut lines: Vec<Line, _> = Vec::with_capacity_in(4, &heap);
    lines.extend((0..4).map(|i| Line([i; 64])));
    // A neighbour from top, right after the block, stops it from growing
    // in place.
    let neighbour = Box::new_in([0u8; 100_000], &heap);
    let before = lines.as_ptr();
    lines.reserve_exact(10_000);
    assert_ne!(lines.as_ptr(), before);
    assert_eq!(lines.as_ptr() as usize % 64, 0);
    assert!(
        lines
            .iter()
            .enumerate()
            .all(|(i, l)| *l == Line([i as u8; 64]))
    );
    drop(neighbour);
    heap.heap_check().unwrap();
}

#[test]
fn grow_and_shrink_may_change_the_alignment() {
    let heap = Mspace::new(1 << 20);
    let a = &heap;
    let old = Layout::from_size_align(100, 8).unwrap();
    let block = a.allocate(old).unwrap().cast::<u8>();
    // SAFETY: a fresh block of 100 bytes.
    unsafe { block.write_bytes(3, 100) };
    let new = Layout::from_size_align(5000, 4096).unwrap();
    // SAFETY: `block` fits `old`; `new` is larger.
    let grown = unsafe { a.grow(block, old, new) }.unwrap();
    assert_eq!(grown.cast::<u8>().as_ptr() as usize % 4096, 0);
    assert!(grown.len() >= 5000);
    // SAFETY: the first 100 bytes were copied.
    assert!((0..100).all(|i| unsafe { grown.cast::<u8>().add(i).read() } == 3));
    let smaller = Layout::from_size_align(50, 16).unwrap();
    // SAFETY: `grown` fits `new`; `smaller` is smaller.
    let shrunk = unsafe { a.shrink(grown.cast(), new, smaller) }.unwrap();
    // SAFETY: the first 50 bytes were kept.
    assert!((0..50).all(|i| unsafe { shrunk.cast::<u8>().add(i).read() } == 3));
    // SAFETY: `shrunk` fits `smaller`.
    unsafe { a.deallocate(shrunk.cast(), smaller) };
    heap.heap_check().unwrap();
}

#[test]
fn zero_size_layouts_get_dangling_aligned_blocks() {
    let heap = Mspace::new(0);
    let a = &heap;
    let in_use = heap.stats().in_use_bytes;
    for align in [1, 8, 64, 4096, 1 << 20] {
        let empty = Layout::from_size_align(0, align).unwrap();
        let block = a.allocate(empty).unwrap();
        assert_eq!(block.len(), 0);
        assert_eq!(block.cast::<u8>().as_ptr() as usize % align, 0);
        let zeroed = a.allocate_zeroed(empty).unwrap();
        assert_eq!(zeroed.len(), 0);
        // SAFETY: both blocks fit the empty layout.
        unsafe {
            a.deallocate(block.cast(), empty);
            a.deallocate(zeroed.cast(), empty);
        }

        // From empty to something and back.
        let block = a.allocate(empty).unwrap();
        let full = Layout::from_size_align(300, align).unwrap();
        // SAFETY: `block` fits `empty`, `full` is larger.
        let grown = unsafe { a.grow_zeroed(block.cast(), empty, full) }.unwrap();
        assert_eq!(grown.cast::<u8>().as_ptr() as usize % align, 0);
        // SAFETY: grown has 300 zeroed bytes.
        assert!((0..300).all(|i| unsafe { grown.cast::<u8>().add(i).read() } == 0));
        // SAFETY: `grown` fits `full`, `empty` is smaller.
        let shrunk = unsafe { a.shrink(grown.cast(), full, empty) }.unwrap();
        assert_eq!(shrunk.len(), 0);
        // SAFETY: `shrunk` fits `empty`.
        unsafe { a.deallocate(shrunk.cast(), empty) };
    }
    assert_eq!(
        heap.stats().in_use_bytes,
        in_use,
        "a zero-size block used memory"
    );

    let mut units: Vec<(), _> = Vec::new_in(&heap);
    units.extend(std::iter::repeat_n((), 1000));
    assert_eq!(units.len(), 1000);
    let unit = Box::new_in((), &heap);
    drop((units, unit));
    assert_eq!(heap.stats().in_use_bytes, in_use);
    heap.heap_check().unwrap();
}

#[test]
fn allocate_zeroed_and_grow_zeroed_really_zero() {
    let heap = Mspace::new(1 << 20);
    let a = &heap;
    let sizes = [1, 24, 333, 4096, 100_000, 2 << 20];
    for align in [8, 16, 4096] {
        // Dirty memory first, so that reused blocks would show it.
        for &size in &sizes {
            let layout = Layout::from_size_align(size, align).unwrap();
            let block = a.allocate(layout).unwrap().cast::<u8>();
            // SAFETY: a fresh block of `size` bytes.
            unsafe { block.write_bytes(0xaa, size) };
            // SAFETY: `block` fits `layout`.
            unsafe { a.deallocate(block, layout) };
        }
        for &size in &sizes {
            let layout = Layout::from_size_align(size, align).unwrap();
            let block = a.allocate_zeroed(layout).unwrap();
            assert_eq!(block.len(), size);
            let block = block.cast::<u8>();
            // SAFETY: a live block of `size` bytes.
            let bytes = unsafe { core::slice::from_raw_parts(block.as_ptr(), size) };
            assert!(
                bytes.iter().all(|&b| b == 0),
                "allocate_zeroed({size}, {align})"
            );

            // SAFETY: a live block of `size` bytes.
            unsafe { block.write_bytes(0x55, size) };
            let bigger = Layout::from_size_align(size * 3, align).unwrap();
            // SAFETY: `block` fits `layout`; `bigger` is larger.
            let grown = unsafe { a.grow_zeroed(block, layout, bigger) }
                .unwrap()
                .cast::<u8>();
            // SAFETY: a live block of `size * 3` bytes.
            let bytes = unsafe { core::slice::from_raw_parts(grown.as_ptr(), size * 3) };
            assert!(
                bytes[..size].iter().all(|&b| b == 0x55),
                "grow_zeroed lost data"
            );
            assert!(
                bytes[size..].iter().all(|&b| b == 0),
                "grow_zeroed({size}, {align})"
            );
            // SAFETY: `grown` fits `bigger`.
            unsafe { a.deallocate(grown, bigger) };
        }
    }
    heap.heap_check().unwrap();
}

#[test]
fn exhaustion_is_an_alloc_error() {
    let heap = Mspace::new(1 << 20);
    let a = &heap;
    // `isize::MAX` bytes is at MAX_REQUEST (`usize::MAX / 2`), which the
    // core refuses at once on every target.
    let mut huge_layouts = vec![Layout::from_size_align(isize::MAX as usize, 1).unwrap()];
    if cfg!(target_pointer_width = "64") {
        // Below MAX_REQUEST, so refused only because no address space holds
        // it; on 32-bit it is 2 GiB less a page, which the heap can really
        // get.
        huge_layouts.push(Layout::from_size_align(isize::MAX as usize - 4096, 8).unwrap());
    }
    for huge in huge_layouts {
        assert!(a.allocate(huge).is_err(), "allocate({huge:?})");
        assert!(
            a.allocate_zeroed(huge).is_err(),
            "allocate_zeroed({huge:?})"
        );
        let small = Layout::from_size_align(64, 8).unwrap();
        let block: NonNull<[u8]> = a.allocate(small).unwrap();
        // SAFETY: `block` fits `small`; `huge` is larger.
        let grown = unsafe { a.grow(block.cast(), small, huge) };
        assert!(grown.is_err(), "grow to {huge:?}");
        // The failed grow left the block in place.
        // SAFETY: `block` still fits `small`.
        unsafe { a.deallocate(block.cast(), small) };
    }

    let mut v: Vec<u8, _> = Vec::new_in(&heap);
    // On 32-bit, `isize::MAX / 2` is 1 GiB, which the heap can really get;
    // `isize::MAX` (at MAX_REQUEST there) must fail.
    let too_much = if cfg!(target_pointer_width = "64") {
        isize::MAX as usize / 2
    } else {
        isize::MAX as usize
    };
    assert!(v.try_reserve(too_much).is_err());
    heap.heap_check().unwrap();
}
