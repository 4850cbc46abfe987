//! create_mspace_with_base: a heap inside caller memory serves nearly all
//! of it without asking the platform for pages; with its footprint limit at
//! its footprint it returns null cleanly when full; without one it grows
//! with new mappings, and destroy_mspace releases those mappings but never
//! the caller's memory, which stays usable. Unaligned and minimal regions,
//! and a static region reused after destroy, work too.
//!
//! The tests hold the per-binary lock: they compare the platform's
//! process-wide `map_count()` and `mapped_bytes()`.

// Every unsafe block below is a call into the raw C API with handles and
// pointers this test got from the same API (or null), or a write to memory
// this test owns; a SAFETY line on each would repeat that sentence dozens
// of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;
use dlmalloc_platform_std::{map_count, mapped_bytes};

mod common;

use core::ffi::{c_int, c_void};
use core::ptr::null_mut;

use dlmalloc_sys::*;
use dlmalloc_test_support::{Rng, assert_mspace_ok, assert_pattern, fill, serial};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
const GUARD: usize = 256;
const GUARD_BYTE: u8 = 0xE7;

/// A caller region of `len` bytes starting `offset` bytes into a buffer,
/// with guard bytes before and after it that the heap must never touch.
struct Region {
    buf: Vec<u8>,
    offset: usize,
    len: usize,
}

impl Region {
    fn new(len: usize, offset: usize) -> Self {
        let buf = vec![GUARD_BYTE; GUARD + offset + len + GUARD];
        Region { buf, offset, len }
    }

    fn base(&mut self) -> *mut c_void {
        self.buf[GUARD + self.offset..].as_mut_ptr().cast()
    }

    fn contains(&self, p: *const c_void, size: usize) -> bool {
        let start = self.buf.as_ptr() as usize + GUARD + self.offset;
        let p = p as usize;
        p >= start && p + size <= start + self.len
    }

    #[track_caller]
    fn assert_guards_intact(&self, what: &str) {
        let before = &self.buf[..GUARD + self.offset];
        let after = &self.buf[GUARD + self.offset + self.len..];
        assert!(
            before.iter().chain(after).all(|&b| b == GUARD_BYTE),
            "{what}: the heap wrote outside its region"
        );
    }

    /// The region is still the caller's: writable and readable.
    #[track_caller]
    fn assert_usable(&mut self, what: &str) {
        let start = GUARD + self.offset;
        let region = &mut self.buf[start..start + self.len];
        region.fill(0x42);
        assert!(region.iter().all(|&b| b == 0x42), "{what}");
    }
}

/// Allocates `size`-byte blocks until one is refused or `max` were given,
/// filling each with its pattern. Returns the blocks.
fn allocate_until_null(msp: Mspace, size: usize, max: usize) -> Vec<*mut c_void> {
    let mut blocks = Vec::new();
    for i in 0..max {
        let p = unsafe { mspace_malloc(msp, size) };
        if p.is_null() {
            return blocks;
        }
        unsafe { fill(p.cast(), 0, size, i as u64) };
        blocks.push(p);
    }
    panic!("{max} blocks of {size} bytes and still no refusal");
}

/// Bytes from the lowest block's start to the highest block's end. A
/// 64-byte request takes an 80-byte chunk (head word, alignment), so the
/// payload alone can never reach 90% of a region; the span shows how much
/// of the region the heap hands out, its own state and foot excluded.
fn span(blocks: &[*mut c_void]) -> usize {
    let start = blocks.iter().map(|&p| p as usize).min().unwrap_or(0);
    let end = blocks
        .iter()
        .map(|&p| p as usize + unsafe { mspace_usable_size(p) })
        .max()
        .unwrap_or(0);
    end - start
}

fn verify_and_free(msp: Mspace, blocks: Vec<*mut c_void>, size: usize, what: &str) {
    for (i, p) in blocks.into_iter().enumerate() {
        unsafe { assert_pattern(p.cast(), 0, size, i as u64, what) };
        unsafe { mspace_free(msp, p) };
    }
}

#[test]
fn a_full_heap_under_its_limit_returns_null() {
    let _serial = serial();
    for locked in [0, 1] {
        let name = format!("1 MiB region, locked {locked}");
        let mut region = Region::new(MIB, 0);
        let maps = map_count();
        let msp = unsafe { create_mspace_with_base(region.base(), MIB, locked) };
        assert!(!msp.is_null(), "{name}: create_mspace_with_base failed");
        let footprint = unsafe { mspace_footprint(msp) };
        assert!(
            footprint <= MIB && footprint + 16 > MIB,
            "{name}: footprint {footprint}"
        );
        let limit = unsafe { mspace_set_footprint_limit(msp, footprint) };
        assert!(limit >= footprint && limit < footprint + common::page_size());

        let blocks = allocate_until_null(msp, 64, MIB / 64);
        let covered = span(&blocks);
        assert!(
            covered > MIB / 10 * 9,
            "{name}: {} blocks of 64 bytes cover only {covered} bytes of 1 MiB",
            blocks.len()
        );
        assert!(blocks.iter().all(|&p| region.contains(p, 64)), "{name}");
        assert_eq!(map_count(), maps, "{name}: the heap mapped memory");
        assert_eq!(unsafe { mspace_footprint(msp) }, footprint, "{name}");
        unsafe { assert_mspace_ok(msp, &format!("{name}: full")) };

        // Everything else is refused too, without mapping or aborting.
        assert!(unsafe { mspace_malloc(msp, 2 * MIB) }.is_null());
        assert!(unsafe { mspace_calloc(msp, 100, 100) }.is_null());
        assert!(unsafe { mspace_memalign(msp, 4096, 64) }.is_null());
        let sizes = [64, 64, 64];
        let array = unsafe { mspace_independent_comalloc(msp, 3, sizes.as_ptr(), null_mut()) };
        assert!(array.is_null(), "{name}: comalloc in a full heap");
        assert_eq!(map_count(), maps, "{name}: refused requests mapped memory");
        unsafe { assert_mspace_ok(msp, &format!("{name}: after refusals")) };

        // Freed space is served again.
        let count = blocks.len();
        verify_and_free(msp, blocks, 64, &name);
        unsafe { assert_mspace_ok(msp, &format!("{name}: emptied")) };
        let again = allocate_until_null(msp, 64, MIB / 64);
        assert!(
            again.len() + 16 >= count,
            "{name}: {} blocks after emptying, {count} before",
            again.len()
        );
        verify_and_free(msp, again, 64, &name);
        let big = unsafe { mspace_malloc(msp, MIB / 2) };
        assert!(!big.is_null() && region.contains(big, MIB / 2), "{name}");
        unsafe { mspace_free(msp, big) };

        assert_eq!(
            unsafe { mspace_trim(msp, 0) },
            0,
            "{name}: trimmed the region"
        );
        assert_eq!(unsafe { mspace_footprint(msp) }, footprint, "{name}");
        assert_eq!(unsafe { destroy_mspace(msp) }, 0, "{name}: destroy_mspace");
        assert_eq!(map_count(), maps, "{name}");
        region.assert_guards_intact(&name);
        region.assert_usable(&name);
    }
}

#[test]
fn without_a_limit_the_heap_grows_and_destroy_keeps_the_region() {
    let _serial = serial();
    for locked in [0, 1] {
        let name = format!("1 MiB region, locked {locked}");
        let mut region = Region::new(MIB, 0);
        let mapped_before = mapped_bytes();
        let maps = map_count();
        let msp = unsafe { create_mspace_with_base(region.base(), MIB, locked) };
        assert!(!msp.is_null());
        let region_bytes = unsafe { mspace_footprint(msp) };

        // 64-byte blocks until the heap has to map memory.
        let mut blocks: Vec<(*mut c_void, usize)> = Vec::new();
        while map_count() == maps {
            let p = unsafe { mspace_malloc(msp, 64) };
            assert!(!p.is_null(), "{name}: malloc(64) failed");
            unsafe { fill(p.cast(), 0, 64, blocks.len() as u64) };
            blocks.push((p, 64));
            assert!(blocks.len() < MIB, "{name}: never grew");
        }
        let in_region = blocks.len() - 1;
        let before_growth: Vec<*mut c_void> = blocks[..in_region].iter().map(|b| b.0).collect();
        let covered = span(&before_growth);
        assert!(
            covered > MIB / 10 * 9,
            "{name}: grew after {in_region} blocks of 64 bytes, covering {covered} bytes"
        );
        assert!(
            blocks[..in_region]
                .iter()
                .all(|&(p, _)| region.contains(p, 64)),
            "{name}: a block before growth lies outside the region"
        );
        // More, of every kind: small, medium, directly mapped.
        let mut rng = Rng::new(0xB45E);
        for _ in 0..3000 {
            let size = match rng.below(100) {
                0..=89 => rng.range(1, 1000),
                90..=98 => rng.range(10 * KIB, 200 * KIB),
                _ => rng.range(MIB, 2 * MIB),
            };
            let p = unsafe { mspace_malloc(msp, size) };
            assert!(!p.is_null(), "{name}: malloc({size}) failed");
            unsafe { fill(p.cast(), 0, size, blocks.len() as u64) };
            blocks.push((p, size));
        }
        unsafe { assert_mspace_ok(msp, &format!("{name}: grown")) };
        for (i, &(p, size)) in blocks.iter().enumerate() {
            unsafe { assert_pattern(p.cast(), 0, size, i as u64, &name) };
        }
        let mapped = mapped_bytes() - mapped_before;
        assert!(mapped > 2 * MIB, "{name}: only {mapped} bytes mapped");
        assert_eq!(
            unsafe { mspace_footprint(msp) } - region_bytes,
            mapped,
            "{name}: footprint beyond the region differs from the mapped bytes"
        );

        // Half freed and a trim: mapped memory may go, the region stays.
        for (p, _) in blocks.drain(..).step_by(2) {
            unsafe { mspace_free(msp, p) };
        }
        unsafe { mspace_trim(msp, 0) };
        unsafe { assert_mspace_ok(msp, &format!("{name}: trimmed")) };
        let footprint = unsafe { mspace_footprint(msp) };
        assert!(footprint >= region_bytes, "{name}: the region was trimmed");
        let mapped = mapped_bytes() - mapped_before;
        assert_eq!(footprint - region_bytes, mapped, "{name}: after trim");

        let released = unsafe { destroy_mspace(msp) };
        assert_eq!(
            released, mapped,
            "{name}: destroy_mspace returned {released}, {mapped} bytes were mapped"
        );
        assert_eq!(mapped_bytes(), mapped_before, "{name}: after destroy");
        region.assert_guards_intact(&name);
        region.assert_usable(&name);
    }
}

#[test]
fn unaligned_regions_work() {
    let _serial = serial();
    for offset in [3usize, 1, 7, 8, 13] {
        let name = format!("region at buffer + {offset}");
        let len = 256 * KIB - offset;
        let mut region = Region::new(len, offset);
        let maps = map_count();
        let msp = unsafe { create_mspace_with_base(region.base(), len, (offset % 2) as c_int) };
        assert!(!msp.is_null(), "{name}: create_mspace_with_base failed");
        unsafe { assert_mspace_ok(msp, &format!("{name}: new")) };
        let footprint = unsafe { mspace_footprint(msp) };
        unsafe { mspace_set_footprint_limit(msp, footprint) };

        let mut rng = Rng::new(offset as u64);
        let mut blocks = Vec::new();
        loop {
            let size = rng.range(1, 3000);
            let p = unsafe { mspace_malloc(msp, size) };
            if p.is_null() {
                break;
            }
            assert_eq!(p as usize % MALLOC_ALIGNMENT, 0, "{name}: misaligned");
            assert!(region.contains(p, size), "{name}: block outside the region");
            unsafe { fill(p.cast(), 0, size, blocks.len() as u64) };
            blocks.push((p, size));
        }
        let used: usize = blocks.iter().map(|&(_, size)| size).sum();
        assert!(used > len / 10 * 8, "{name}: only {used} bytes served");
        let p = unsafe { mspace_memalign(msp, 4096, 100) };
        if !p.is_null() {
            assert_eq!(p as usize % 4096, 0, "{name}");
            unsafe { mspace_free(msp, p) };
        }
        unsafe { assert_mspace_ok(msp, &format!("{name}: full")) };
        for (i, (p, size)) in blocks.into_iter().enumerate() {
            unsafe { assert_pattern(p.cast(), 0, size, i as u64, &name) };
            unsafe { mspace_free(msp, p) };
        }
        unsafe { assert_mspace_ok(msp, &format!("{name}: emptied")) };
        assert_eq!(unsafe { destroy_mspace(msp) }, 0, "{name}");
        assert_eq!(map_count(), maps, "{name}: mapped memory");
        region.assert_guards_intact(&name);
    }
}

#[test]
fn the_smallest_region_is_the_same_at_every_alignment_and_works() {
    let _serial = serial();
    let mut smallest = None;
    for offset in 0..16 {
        let mut region = Region::new(4 * KIB, offset);
        let base = region.base();
        let min = (1..=4 * KIB)
            .find(|&len| {
                let msp = unsafe { create_mspace_with_base(base, len, 0) };
                !msp.is_null() && unsafe { destroy_mspace(msp) } == 0
            })
            .expect("a 4 KiB region is enough for a heap");
        assert_eq!(
            *smallest.get_or_insert(min),
            min,
            "offset {offset}: smallest region differs"
        );
        let name = format!("{min}-byte region at offset {offset}");

        // Under a limit it cannot grow: requests fail cleanly.
        let mapped = mapped_bytes();
        let msp = unsafe { create_mspace_with_base(base, min, 1) };
        assert!(!msp.is_null());
        unsafe { assert_mspace_ok(msp, &format!("{name}: new")) };
        unsafe { mspace_set_footprint_limit(msp, mspace_footprint(msp)) };
        let p = unsafe { mspace_malloc(msp, 1) };
        if !p.is_null() {
            assert!(region.contains(p, 1), "{name}");
            unsafe { mspace_free(msp, p) };
        }
        unsafe { assert_mspace_ok(msp, &format!("{name}: limited")) };
        // Without one it grows, and destroy gives the growth back.
        unsafe { mspace_set_footprint_limit(msp, 0) };
        let blocks: Vec<*mut c_void> = (0..100)
            .map(|i| {
                let p = unsafe { mspace_malloc(msp, 1000) };
                assert!(!p.is_null(), "{name}: malloc(1000)");
                unsafe { fill(p.cast(), 0, 1000, i) };
                p
            })
            .collect();
        unsafe { assert_mspace_ok(msp, &format!("{name}: grown")) };
        for (i, &p) in blocks.iter().enumerate() {
            unsafe { assert_pattern(p.cast(), 0, 1000, i as u64, &name) };
        }
        let grown = mapped_bytes() - mapped;
        assert!(grown > 0, "{name}: did not grow");
        assert_eq!(unsafe { destroy_mspace(msp) }, grown, "{name}");
        assert_eq!(mapped_bytes(), mapped, "{name}");
        region.assert_guards_intact(&name);

        // One byte less is refused.
        let msp = unsafe { create_mspace_with_base(base, min - 1, 0) };
        assert!(msp.is_null(), "{name}: {} bytes accepted", min - 1);
    }
}

/// A static region, aligned like any heap memory.
#[repr(C, align(64))]
struct StaticRegion([u8; 256 * KIB]);
static mut STATIC_REGION: StaticRegion = StaticRegion([0; 256 * KIB]);

#[test]
fn a_static_region_can_be_reused_after_destroy() {
    let _serial = serial();
    let base = (&raw mut STATIC_REGION).cast::<c_void>();
    let maps = map_count();
    let mut counts = Vec::new();
    for round in 0..3u64 {
        let msp = unsafe { create_mspace_with_base(base, 256 * KIB, (round % 2) as c_int) };
        assert!(!msp.is_null(), "round {round}: create_mspace_with_base");
        unsafe { mspace_set_footprint_limit(msp, mspace_footprint(msp)) };
        let blocks = allocate_until_null(msp, 200, 256 * KIB);
        counts.push(blocks.len());
        unsafe { assert_mspace_ok(msp, &format!("round {round}: full")) };
        verify_and_free(msp, blocks, 200, &format!("round {round}"));
        assert_eq!(unsafe { destroy_mspace(msp) }, 0, "round {round}");
    }
    assert!(counts.iter().all(|&n| n == counts[0]), "{counts:?}");
    assert!(counts[0] * 200 > 256 * KIB / 10 * 8, "{counts:?}");
    assert_eq!(map_count(), maps, "a static-region heap mapped memory");
}
