//! create_mspace_with_source: every page of such a heap (its segments and
//! its large chunks' own mappings) comes from the caller's `map` and goes
//! back through its `unmap`, never through the platform's hooks. The tests
//! run the heap on a page source of their own over one reserved region,
//! which records every live mapping and checks each range the heap gives
//! back against the contract in dl_hooks.h (whole mappings, or tails,
//! possibly spanning adjacent mappings; never a head, an inner piece or
//! memory it does not hold). Checked: every block lies in the source's
//! live mappings and the platform maps nothing; the footprint equals the
//! source's outstanding bytes after every step; freeing large chunks,
//! shrinking them in place and trimming give pages back; a failing `map`
//! makes requests (and creation) fail cleanly; a refusing `unmap` leaves the
//! heap consistent, using the memory it could not give back; destroy_mspace
//! returns everything and counts it; a block grown over and over moves
//! into the heap, whose memory later rounds reuse; a long randomized run
//! stays within the source.
//!
//! The tests hold the per-binary lock: they compare the platform's
//! process-wide `map_count()`, `mapped_bytes()` and `remap_count()`.

// Every unsafe block below is a call into the raw C API with handles and
// pointers this test got from the same API (or null), or a write to memory
// this test owns; a SAFETY line on each would repeat that sentence dozens
// of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;
#[cfg(not(windows))]
use dlmalloc_platform_std::remap_count;
use dlmalloc_platform_std::{map_count, mapped_bytes};

/// The Windows platform has no `custom_mremap`: it never remaps anything.
#[cfg(windows)]
fn remap_count() -> usize {
    0
}

mod common;

use core::cell::{Cell, RefCell};
use core::ffi::{c_int, c_void};
use core::ptr::null_mut;
use std::alloc::{Layout, alloc, dealloc};
use std::collections::BTreeMap;

use dlmalloc_sys::*;
use dlmalloc_test_support::{Rng, assert_mspace_ok, assert_pattern, fill, serial};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// What the source did, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Map(usize, usize),
    Unmap(usize, usize),
    Refused(usize, usize),
    MapFailed(usize),
}

/// A page source over one region reserved from the system allocator: a
/// first-fit allocator (a bump pointer until something comes back) with a
/// record of every live mapping. Everything is behind `Cell`/`RefCell`, so
/// the heap's callbacks and the test share it through `&Source`.
struct Source {
    base: usize,
    len: usize,
    layout: Layout,
    page: usize,
    /// Unmapped ranges of the region, sorted and coalesced: (start, len).
    free: RefCell<Vec<(usize, usize)>>,
    /// Live mappings: base -> len. A tail given back shortens a record.
    live: RefCell<BTreeMap<usize, usize>>,
    log: RefCell<Vec<Event>>,
    /// Contract breaches seen by `map` or `unmap` (each refused).
    violations: RefCell<Vec<String>>,
    maps: Cell<usize>,
    unmaps: Cell<usize>,
    refusals: Cell<usize>,
    failed_maps: Cell<usize>,
    outstanding: Cell<usize>,
    fail_map: Cell<bool>,
    refuse_unmap: Cell<bool>,
}

impl Source {
    fn new(len: usize) -> Self {
        let page = common::page_size();
        let layout = Layout::from_size_align(len, page).expect("region layout");
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { alloc(layout) } as usize;
        assert!(base != 0, "could not reserve a {len}-byte region");
        Source {
            base,
            len,
            layout,
            page,
            free: RefCell::new(vec![(base, len)]),
            live: RefCell::new(BTreeMap::new()),
            log: RefCell::new(Vec::new()),
            violations: RefCell::new(Vec::new()),
            maps: Cell::new(0),
            unmaps: Cell::new(0),
            refusals: Cell::new(0),
            failed_maps: Cell::new(0),
            outstanding: Cell::new(0),
            fail_map: Cell::new(false),
            refuse_unmap: Cell::new(false),
        }
    }

    /// The `context` the heap passes back to the callbacks.
    fn context(&self) -> *mut c_void {
        (self as *const Source).cast_mut().cast()
    }

    fn outstanding(&self) -> usize {
        self.outstanding.get()
    }

    fn last_event(&self) -> Option<Event> {
        self.log.borrow().last().copied()
    }

    fn violation(&self, what: String) {
        self.violations.borrow_mut().push(what);
    }

    fn map(&self, length: usize) -> *mut c_void {
        if length == 0 || length % self.page != 0 {
            self.violation(format!(
                "map({length}): not a non-zero multiple of the page"
            ));
            return null_mut();
        }
        let found = if self.fail_map.get() {
            None
        } else {
            let mut free = self.free.borrow_mut();
            free.iter().position(|&(_, len)| len >= length).map(|i| {
                let (start, len) = free[i];
                if len == length {
                    free.remove(i);
                } else {
                    free[i] = (start + length, len - length);
                }
                start
            })
        };
        let Some(start) = found else {
            self.failed_maps.set(self.failed_maps.get() + 1);
            self.log.borrow_mut().push(Event::MapFailed(length));
            return null_mut();
        };
        self.live.borrow_mut().insert(start, length);
        self.log.borrow_mut().push(Event::Map(start, length));
        self.maps.set(self.maps.get() + 1);
        self.outstanding.set(self.outstanding.get() + length);
        start as *mut c_void
    }

    /// The live records [base, base+length) consists of, if the range is
    /// one the contract allows: page aligned, every byte live, a run of
    /// adjacent mappings whose first may be entered at a page (a tail) and
    /// whose last ends exactly at the range's end (never a head or an inner
    /// piece).
    fn records_of(&self, base: usize, length: usize) -> Result<Vec<usize>, String> {
        if length == 0 || length % self.page != 0 || base % self.page != 0 {
            return Err("not page aligned or empty".into());
        }
        let end = base.checked_add(length).ok_or("wraps around")?;
        let live = self.live.borrow();
        let (&first, &first_len) = live
            .range(..=base)
            .next_back()
            .ok_or("below every live mapping")?;
        if first + first_len <= base {
            return Err("starts in memory the source has not mapped".into());
        }
        let mut records = vec![first];
        let mut at = first + first_len;
        while at < end {
            let Some(&len) = live.get(&at) else {
                return Err(format!("runs past a live mapping's end at {at:#x}"));
            };
            records.push(at);
            at += len;
        }
        if at != end {
            return Err(format!(
                "ends inside the mapping ending at {at:#x} (a head or an inner piece)"
            ));
        }
        Ok(records)
    }

    fn unmap(&self, base: usize, length: usize) -> c_int {
        let records = match self.records_of(base, length) {
            Ok(records) => records,
            Err(why) => {
                self.violation(format!("unmap({base:#x}, {length}): {why}"));
                return -1;
            }
        };
        if self.refuse_unmap.get() {
            self.refusals.set(self.refusals.get() + 1);
            self.log.borrow_mut().push(Event::Refused(base, length));
            return -1;
        }
        {
            let mut live = self.live.borrow_mut();
            for start in records {
                if start < base {
                    live.insert(start, base - start);
                } else {
                    live.remove(&start);
                }
            }
        }
        let mut free = self.free.borrow_mut();
        let i = free.partition_point(|&(start, _)| start < base);
        free.insert(i, (base, length));
        if i + 1 < free.len() && free[i].0 + free[i].1 == free[i + 1].0 {
            free[i].1 += free[i + 1].1;
            free.remove(i + 1);
        }
        if i > 0 && free[i - 1].0 + free[i - 1].1 == free[i].0 {
            free[i - 1].1 += free[i].1;
            free.remove(i);
        }
        self.log.borrow_mut().push(Event::Unmap(base, length));
        self.unmaps.set(self.unmaps.get() + 1);
        self.outstanding.set(self.outstanding.get() - length);
        0
    }

    /// True when [p, p+size) lies in the source's live mappings.
    fn covers(&self, p: *const c_void, size: usize) -> bool {
        let (p, end) = (p as usize, p as usize + size.max(1));
        let live = self.live.borrow();
        let mut at = p;
        while at < end {
            match live.range(..=at).next_back() {
                Some((&start, &len)) if start + len > at => at = start + len,
                _ => return false,
            }
        }
        true
    }

    /// The mapping made for the large block `p` of `size` bytes alone, if
    /// it has one: it starts just below the block and ends within a page
    /// of its end. (A segment grows in steps of at least 64 KiB.)
    fn own_mapping(&self, p: *const c_void, size: usize) -> Option<(usize, usize)> {
        let (base, len) = self.mapping_of(p)?;
        (p as usize - base <= 256 && base + len <= p as usize + size + 2 * self.page)
            .then_some((base, len))
    }

    /// The live mapping that holds address `p`: (base, len).
    fn mapping_of(&self, p: *const c_void) -> Option<(usize, usize)> {
        let p = p as usize;
        let live = self.live.borrow();
        let (&start, &len) = live.range(..=p).next_back()?;
        (start + len > p).then_some((start, len))
    }

    #[track_caller]
    fn assert_clean(&self, what: &str) {
        let violations = self.violations.borrow();
        assert!(
            violations.is_empty(),
            "{what}: the heap broke the page-source contract:\n{}",
            violations.join("\n")
        );
    }

    /// Nothing is mapped any more and the region is one free range again.
    #[track_caller]
    fn assert_all_returned(&self, what: &str) {
        self.assert_clean(what);
        assert_eq!(self.outstanding(), 0, "{what}: bytes still outstanding");
        assert!(
            self.live.borrow().is_empty(),
            "{what}: live mappings {:?}",
            self.live.borrow()
        );
        assert_eq!(
            *self.free.borrow(),
            vec![(self.base, self.len)],
            "{what}: the region is not whole again"
        );
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; every heap using the
        // source was destroyed (or its test failed and nothing uses it).
        unsafe { dealloc(self.base as *mut u8, self.layout) };
    }
}

unsafe extern "C" fn source_map(context: *mut c_void, length: usize) -> *mut c_void {
    // SAFETY: every heap of this file gets a `&Source` as its context
    // (`create`), and each source outlives its heap. The source is only
    // used through shared references (its state is in cells), and the
    // heaps are used by one thread at a time.
    let source = unsafe { &*context.cast::<Source>() };
    source.map(length)
}

unsafe extern "C" fn source_unmap(context: *mut c_void, base: *mut c_void, length: usize) -> c_int {
    // SAFETY: as in `source_map`.
    let source = unsafe { &*context.cast::<Source>() };
    source.unmap(base as usize, length)
}

/// A heap whose pages come from `source`, which must outlive it.
fn create(source: &Source, capacity: usize, locked: c_int) -> Mspace {
    unsafe {
        create_mspace_with_source(
            capacity,
            locked,
            Some(source_map),
            Some(source_unmap),
            source.context(),
        )
    }
}

/// The platform's counters, which a source-backed heap must never move.
#[derive(Debug, PartialEq, Eq)]
struct Platform {
    maps: usize,
    mapped: usize,
    remaps: usize,
}

fn platform() -> Platform {
    Platform {
        maps: map_count(),
        mapped: mapped_bytes(),
        remaps: remap_count(),
    }
}

#[track_caller]
fn assert_footprint(msp: Mspace, source: &Source, what: &str) {
    assert_eq!(
        unsafe { mspace_footprint(msp) },
        source.outstanding(),
        "{what}: footprint differs from the source's outstanding bytes"
    );
}

/// Allocates `size` bytes, checks the block lies in the source's live
/// mappings, and fills it with the pattern for `seed`.
#[track_caller]
fn alloc_in(msp: Mspace, source: &Source, size: usize, seed: u64, what: &str) -> *mut c_void {
    let p = unsafe { mspace_malloc(msp, size) };
    assert!(!p.is_null(), "{what}: malloc({size}) failed");
    assert_eq!(p as usize % MALLOC_ALIGNMENT, 0, "{what}: misaligned");
    let usable = unsafe { mspace_usable_size(p) };
    assert!(usable >= size, "{what}: usable size {usable} < {size}");
    assert!(
        source.covers(p, usable),
        "{what}: block {p:?} of {usable} bytes lies outside the source's mappings"
    );
    unsafe { fill(p.cast(), 0, size, seed) };
    p
}

#[test]
fn every_block_comes_from_the_source() {
    let _serial = serial();
    for locked in [0, 1] {
        let name = format!("locked {locked}");
        let source = Source::new(128 * MIB);
        let before = platform();
        let msp = create(&source, 0, locked);
        assert!(!msp.is_null(), "{name}: create_mspace_with_source failed");
        assert_eq!(source.maps.get(), 1, "{name}: creation maps once");
        assert!(
            source.covers(msp, 1),
            "{name}: the state is not in the source"
        );
        assert_footprint(msp, &source, &name);

        let sizes = [
            1,
            24,
            100,
            1000,
            4 * KIB,
            10 * KIB,
            100 * KIB,
            200 * KIB,
            300 * KIB,
            MIB,
            4 * MIB,
        ];
        let mut blocks = Vec::new();
        for round in 0..6 {
            for &size in &sizes {
                let seed = blocks.len() as u64;
                let p = alloc_in(msp, &source, size, seed, &format!("{name}, round {round}"));
                blocks.push((p, size, seed));
                assert_footprint(msp, &source, &name);
            }
        }
        assert!(
            source.maps.get() > sizes.len(),
            "{name}: only {} mappings for {} MiB of blocks",
            source.maps.get(),
            source.outstanding() / MIB
        );
        // A large block lies in a mapping of its own.
        let big = blocks.iter().find(|b| b.1 == 4 * MIB).unwrap().0;
        let (_, len) = source.mapping_of(big).unwrap();
        assert!(
            len < 4 * MIB + 64 * KIB,
            "{name}: 4 MiB block in a {len}-byte mapping"
        );

        // calloc, memalign and comalloc are served from the source too.
        let z = unsafe { mspace_calloc(msp, 1000, 1000) };
        assert!(
            !z.is_null() && source.covers(z, 1_000_000),
            "{name}: calloc"
        );
        assert!(
            unsafe { core::slice::from_raw_parts(z.cast::<u8>(), 1_000_000) }
                .iter()
                .all(|&b| b == 0),
            "{name}: calloc'd block not zeroed"
        );
        unsafe { mspace_free(msp, z) };
        for align in [4 * KIB, 64 * KIB, MIB] {
            for size in [100, 300 * KIB] {
                let p = unsafe { mspace_memalign(msp, align, size) };
                assert!(!p.is_null(), "{name}: memalign({align}, {size})");
                assert_eq!(p as usize % align, 0, "{name}: memalign({align}, {size})");
                assert!(source.covers(p, size), "{name}: memalign({align}, {size})");
                unsafe { mspace_free(msp, p) };
            }
        }
        let parts = [100, 5000, 400 * KIB];
        let mut array = [null_mut(); 3];
        let got =
            unsafe { mspace_independent_comalloc(msp, 3, parts.as_ptr(), array.as_mut_ptr()) };
        assert!(!got.is_null(), "{name}: comalloc");
        for (&p, &size) in array.iter().zip(&parts) {
            assert!(source.covers(p, size), "{name}: comalloc part");
            unsafe { mspace_free(msp, p) };
        }
        assert_footprint(msp, &source, &format!("{name}: after calloc/memalign"));

        // Large blocks grow without custom_mremap: realloc moves them
        // (within the source), realloc_in_place cannot grow them.
        let mut grown = 0;
        for b in blocks.iter_mut().filter(|b| b.1 == MIB).take(5) {
            let in_place = unsafe { mspace_realloc_in_place(msp, b.0, 3 * MIB) };
            assert!(in_place.is_null(), "{name}: a large block grew in place");
            let q = unsafe { mspace_realloc(msp, b.0, 6 * MIB) };
            assert!(!q.is_null(), "{name}: realloc to 6 MiB");
            assert!(source.covers(q, 6 * MIB), "{name}: realloc'd block outside");
            unsafe { assert_pattern(q.cast(), 0, MIB, b.2, &name) };
            unsafe { fill(q.cast(), MIB, 6 * MIB, b.2) };
            *b = (q, 6 * MIB, b.2);
            grown += 1;
        }
        assert_eq!(grown, 5);
        assert_footprint(msp, &source, &format!("{name}: after realloc"));

        unsafe { assert_mspace_ok(msp, &format!("{name}: full")) };
        for &(p, size, seed) in &blocks {
            unsafe { assert_pattern(p.cast(), 0, size, seed, &name) };
        }
        assert_eq!(platform(), before, "{name}: the platform's hooks were used");
        source.assert_clean(&name);

        let outstanding = source.outstanding();
        let released = unsafe { destroy_mspace(msp) };
        assert_eq!(released, outstanding, "{name}: destroy_mspace's count");
        source.assert_all_returned(&format!("{name}: destroyed"));
        assert_eq!(platform(), before, "{name}: destroy used the platform");
    }
}

#[test]
fn freeing_shrinking_and_trimming_give_pages_back() {
    let _serial = serial();
    let before = platform();
    let source = Source::new(64 * MIB);
    // A first segment of at least 1 MiB whatever the granularity (2 MiB
    // by default, 64 KiB on Windows).
    let msp = create(&source, MIB, 1);
    assert!(!msp.is_null());
    // Large requests are served from top when it is big enough: a filler
    // takes all of the first segment's top but 148 KiB, so the blocks
    // below (300 KiB and more) get mappings of their own.
    let filler_size = unsafe { mspace_mallinfo(msp) }.keepcost - 148 * KIB;
    let filler = alloc_in(msp, &source, filler_size, 0, "filler");
    let initial = source.outstanding();
    assert_eq!(source.maps.get(), 1, "the filler was not served from top");
    assert_footprint(msp, &source, "new");

    // A large block's mapping goes back whole when it is freed.
    for size in [300 * KIB, MIB, 4 * MIB] {
        let what = format!("{size}-byte block");
        let p = alloc_in(msp, &source, size, 1, &what);
        let Some(Event::Map(base, len)) = source.last_event() else {
            panic!("{what}: not mapped on its own: {:?}", source.last_event());
        };
        assert!(
            len >= size && len < size + 2 * common::page_size(),
            "{what}: {len}"
        );
        assert_eq!(source.mapping_of(p), Some((base, len)), "{what}");
        assert_eq!(source.outstanding(), initial + len, "{what}");
        assert_footprint(msp, &source, &what);
        unsafe { mspace_free(msp, p) };
        assert_eq!(source.last_event(), Some(Event::Unmap(base, len)), "{what}");
        assert_eq!(source.outstanding(), initial, "{what}: after free");
        assert_footprint(msp, &source, &format!("{what}: after free"));
    }

    // Shrinking one in place gives its tail pages back; the head stays.
    let p = alloc_in(msp, &source, 4 * MIB, 2, "shrink");
    let (base, len) = source.mapping_of(p).unwrap();
    let q = unsafe { mspace_realloc_in_place(msp, p, MIB) };
    assert_eq!(q, p, "realloc_in_place to 1 MiB moved or failed");
    let Some(Event::Unmap(tail, tail_len)) = source.last_event() else {
        panic!("shrinking gave nothing back: {:?}", source.last_event());
    };
    assert_eq!(tail + tail_len, base + len, "not a tail of the mapping");
    assert!(
        tail_len > 2 * MIB,
        "only {tail_len} bytes of 3 MiB given back"
    );
    assert_eq!(source.mapping_of(p), Some((base, tail - base)));
    let usable = unsafe { mspace_usable_size(p) };
    assert!(
        (MIB..MIB + 2 * common::page_size()).contains(&usable),
        "usable {usable}"
    );
    unsafe { assert_pattern(p.cast(), 0, MIB, 2, "shrunk block") };
    assert_footprint(msp, &source, "after shrinking");
    // realloc (may move) of a large block to a smaller large size shrinks
    // in place too.
    let q = unsafe { mspace_realloc(msp, p, 512 * KIB) };
    assert_eq!(q, p, "realloc to 512 KiB moved");
    assert!(matches!(source.last_event(), Some(Event::Unmap(..))));
    unsafe { assert_pattern(p.cast(), 0, 512 * KIB, 2, "shrunk again") };
    assert_footprint(msp, &source, "after shrinking again");
    unsafe { mspace_free(msp, p) };
    assert_eq!(source.outstanding(), initial, "shrunk block freed");
    unsafe { assert_pattern(filler.cast(), 0, filler_size, 0, "filler") };
    unsafe { mspace_free(msp, filler) };
    assert_footprint(msp, &source, "filler freed");

    // Many medium blocks grow the heap's segments; freeing them all gives
    // nearly everything back (the heap trims itself past the threshold).
    let grow = |seed: u64| -> Vec<*mut c_void> {
        (0..2000)
            .map(|i| alloc_in(msp, &source, 10 * KIB, seed + i, "medium"))
            .collect()
    };
    let blocks = grow(100);
    let peak = source.outstanding();
    assert!(peak > initial + 16 * MIB, "peak {peak}");
    assert_footprint(msp, &source, "grown");
    let unmaps = source.unmaps.get();
    for (i, &p) in blocks.iter().enumerate() {
        unsafe { assert_pattern(p.cast(), 0, 10 * KIB, 100 + i as u64, "medium") };
        unsafe { mspace_free(msp, p) };
    }
    unsafe { mspace_trim(msp, 0) };
    assert!(
        source.unmaps.get() > unmaps,
        "freeing 20 MiB unmapped nothing"
    );
    let after = source.outstanding();
    assert!(
        after <= initial,
        "{after} bytes outstanding after freeing everything, {initial} at the start"
    );
    assert_footprint(msp, &source, "freed and trimmed");
    unsafe { assert_mspace_ok(msp, "freed and trimmed") };

    // With the source refusing, the heap's own trimming keeps everything;
    // mspace_trim gives it back once the source accepts again.
    let blocks = grow(5000);
    source.refuse_unmap.set(true);
    for &p in &blocks {
        unsafe { mspace_free(msp, p) };
    }
    let peak = source.outstanding();
    assert!(peak > initial + 16 * MIB, "peak {peak} with refusals");
    assert!(source.refusals.get() > 0, "the heap never tried to trim");
    assert_footprint(msp, &source, "freed, refused");
    source.refuse_unmap.set(false);
    let unmaps = source.unmaps.get();
    assert_eq!(unsafe { mspace_trim(msp, 4 * MIB) }, 1, "trim(4 MiB)");
    let padded = source.outstanding();
    assert!(padded < peak, "trim(4 MiB) released nothing");
    // Top keeps the pad; the state and the rounding to pages are the rest.
    assert!(
        (4 * MIB..4 * MIB + 64 * KIB).contains(&padded),
        "trim(4 MiB) kept {padded} bytes"
    );
    assert_footprint(msp, &source, "trim(4 MiB)");
    assert_eq!(unsafe { mspace_trim(msp, 0) }, 1, "trim(0)");
    let trimmed = source.outstanding();
    assert!(trimmed <= initial, "{trimmed} bytes after trim(0)");
    assert!(source.unmaps.get() >= unmaps + 2);
    assert_footprint(msp, &source, "trim(0)");
    assert_eq!(
        unsafe { mspace_trim(msp, 0) },
        0,
        "trim(0) again released memory"
    );
    assert_eq!(source.outstanding(), trimmed);
    unsafe { assert_mspace_ok(msp, "trimmed") };

    // The heap still works after giving its pages back.
    let p = alloc_in(msp, &source, 50 * KIB, 7, "after trim");
    unsafe { mspace_free(msp, p) };

    source.assert_clean("trim");
    let outstanding = source.outstanding();
    assert_eq!(
        unsafe { destroy_mspace(msp) },
        outstanding,
        "destroy_mspace's count"
    );
    source.assert_all_returned("destroyed");
    assert_eq!(platform(), before, "the platform's hooks were used");
}

#[test]
fn a_failing_map_fails_requests_and_creation_cleanly() {
    let _serial = serial();
    let before = platform();
    let source = Source::new(64 * MIB);

    // Creation fails when the first mapping does, and without map or unmap.
    source.fail_map.set(true);
    assert!(create(&source, 0, 0).is_null(), "created without memory");
    assert!(create(&source, MIB, 1).is_null(), "created without memory");
    assert_eq!(source.failed_maps.get(), 2);
    source.fail_map.set(false);
    let none_map =
        unsafe { create_mspace_with_source(0, 0, None, Some(source_unmap), source.context()) };
    assert!(none_map.is_null(), "created without map");
    let none_unmap =
        unsafe { create_mspace_with_source(0, 1, Some(source_map), None, source.context()) };
    assert!(none_unmap.is_null(), "created without unmap");
    let neither = unsafe { create_mspace_with_source(0, 1, None, None, null_mut()) };
    assert!(neither.is_null(), "created without map and unmap");
    assert_eq!(source.maps.get(), 0, "a failed creation kept a mapping");
    assert_eq!(source.outstanding(), 0);

    for locked in [0, 1] {
        let name = format!("locked {locked}");
        let msp = create(&source, 0, locked);
        assert!(!msp.is_null(), "{name}");
        let initial = source.outstanding();
        let small: Vec<_> = (0..10)
            .map(|i| alloc_in(msp, &source, 100, i, &name))
            .collect();

        source.fail_map.set(true);
        let failed = source.failed_maps.get();
        for size in [3 * MIB, 4 * MIB, 64 * MIB] {
            let p = unsafe { mspace_malloc(msp, size) };
            assert!(p.is_null(), "{name}: malloc({size}) without pages");
        }
        assert!(source.failed_maps.get() > failed, "{name}: map never asked");
        // realloc of a small block to a large size fails and keeps it.
        let q = unsafe { mspace_realloc(msp, small[0], 3 * MIB) };
        assert!(q.is_null(), "{name}: realloc to 3 MiB without pages");
        unsafe { assert_pattern(small[0].cast(), 0, 100, 0, &name) };
        assert_eq!(source.outstanding(), initial, "{name}: failed maps counted");
        assert_footprint(msp, &source, &name);
        unsafe { assert_mspace_ok(msp, &format!("{name}: after failures")) };

        // Small requests are still served from the first segment, until it
        // is full; then they fail too, and freed space is served again.
        let mut more = Vec::new();
        loop {
            let p = unsafe { mspace_malloc(msp, 1000) };
            if p.is_null() {
                break;
            }
            assert!(source.covers(p, 1000), "{name}");
            unsafe { fill(p.cast(), 0, 1000, 1000 + more.len() as u64) };
            more.push(p);
            assert!(more.len() < 4 * MIB / 1000, "{name}: never ran out");
        }
        assert!(
            more.len() * 1000 > initial / 2,
            "{name}: only {} blocks of 1000 bytes in {initial} bytes",
            more.len()
        );
        assert_eq!(source.outstanding(), initial, "{name}");
        unsafe { assert_mspace_ok(msp, &format!("{name}: full")) };
        let last = more.pop().unwrap();
        unsafe { mspace_free(msp, last) };
        let p = unsafe { mspace_malloc(msp, 1000) };
        assert!(!p.is_null(), "{name}: freed space not served again");
        more.push(p);
        unsafe { fill(p.cast(), 0, 1000, 1000 + more.len() as u64 - 1) };

        // Pages again: the heap grows.
        source.fail_map.set(false);
        let big = alloc_in(msp, &source, 4 * MIB, 9, &name);
        let medium = alloc_in(msp, &source, 100 * KIB, 10, &name);
        assert!(source.outstanding() > initial + 4 * MIB, "{name}");
        assert_footprint(msp, &source, &name);
        unsafe { assert_mspace_ok(msp, &format!("{name}: grown again")) };
        for (i, &p) in small.iter().enumerate() {
            unsafe { assert_pattern(p.cast(), 0, 100, i as u64, &name) };
        }
        for (i, &p) in more.iter().enumerate() {
            unsafe { assert_pattern(p.cast(), 0, 1000, 1000 + i as u64, &name) };
        }
        unsafe { assert_pattern(big.cast(), 0, 4 * MIB, 9, &name) };
        unsafe { assert_pattern(medium.cast(), 0, 100 * KIB, 10, &name) };

        let outstanding = source.outstanding();
        assert_eq!(unsafe { destroy_mspace(msp) }, outstanding, "{name}");
        source.assert_all_returned(&name);
    }
    assert_eq!(platform(), before, "the platform's hooks were used");
}

#[test]
fn a_refusing_unmap_leaves_the_heap_consistent() {
    let _serial = serial();
    let before = platform();
    for locked in [0, 1] {
        let name = format!("locked {locked}");
        let source = Source::new(64 * MIB);
        let msp = create(&source, 0, locked);
        assert!(!msp.is_null(), "{name}");
        let mut blocks: Vec<(*mut c_void, usize, u64)> = Vec::new();
        let mut rng = Rng::new(0x5EED + locked as u64);
        for i in 0..300 {
            let size = match i % 10 {
                0 => rng.range(300 * KIB, 1800 * KIB),
                1..=3 => rng.range(4 * KIB, 120 * KIB),
                _ => rng.range(1, 1000),
            };
            blocks.push((alloc_in(msp, &source, size, i, &name), size, i));
        }
        // The large blocks in mappings of their own (the first ones came
        // from top).
        let large: Vec<usize> = (0..blocks.len())
            .filter(|&i| source.own_mapping(blocks[i].0, blocks[i].1).is_some())
            .collect();
        assert!(
            large.len() > 10,
            "{name}: {} large blocks mapped",
            large.len()
        );
        assert_footprint(msp, &source, &name);

        source.refuse_unmap.set(true);
        let outstanding = source.outstanding();

        // Freeing large blocks: their mappings stay, as heap memory.
        let (p, size, _) = blocks[large[0]];
        let (base, len) = source.mapping_of(p).unwrap();
        unsafe { mspace_free(msp, p) };
        assert_eq!(
            source.last_event(),
            Some(Event::Refused(base, len)),
            "{name}: freeing a large block"
        );
        assert_eq!(source.outstanding(), outstanding, "{name}");
        assert_footprint(msp, &source, &format!("{name}: large block freed, refused"));
        unsafe { assert_mspace_ok(msp, &format!("{name}: large block kept")) };
        // The kept mapping is used: medium blocks land in it before the
        // heap maps anything new.
        let maps = source.maps.get();
        let mut kept = Vec::new();
        loop {
            let seed = 10_000 + kept.len() as u64;
            let p = alloc_in(msp, &source, 30 * KIB, seed, &name);
            kept.push((p, 30 * KIB, seed));
            if (base..base + len).contains(&(p as usize)) {
                break;
            }
            assert_eq!(
                source.maps.get(),
                maps,
                "{name}: mapped more before using a {size}-byte block's kept mapping"
            );
        }
        assert_eq!(source.outstanding(), outstanding, "{name}: mapped more");
        blocks.extend(kept);

        // Shrinking a large block in place keeps its pages.
        let (p, size, seed) = blocks[large[1]];
        let usable = unsafe { mspace_usable_size(p) };
        let q = unsafe { mspace_realloc_in_place(msp, p, 1000) };
        assert!(q.is_null() || q == p, "{name}: realloc_in_place moved");
        assert!(
            matches!(source.last_event(), Some(Event::Refused(..))),
            "{name}: shrink did not try to unmap: {:?}",
            source.last_event()
        );
        assert_eq!(
            unsafe { mspace_usable_size(p) },
            usable,
            "{name}: shrunk anyway"
        );
        unsafe { assert_pattern(p.cast(), 0, size, seed, &name) };
        assert_footprint(msp, &source, &format!("{name}: shrink refused"));

        // Free everything but every third block, then trim: nothing goes.
        let mut live = Vec::new();
        for (i, b) in blocks.drain(..).enumerate() {
            if i % 3 == 0 || i == large[0] {
                if i != large[0] {
                    live.push(b);
                }
            } else {
                unsafe { assert_pattern(b.0.cast(), 0, b.1, b.2, &name) };
                unsafe { mspace_free(msp, b.0) };
            }
        }
        let refusals = source.refusals.get();
        assert_eq!(
            unsafe { mspace_trim(msp, 0) },
            0,
            "{name}: trim reports a release"
        );
        assert!(source.refusals.get() > refusals, "{name}: trim never tried");
        assert_eq!(source.outstanding(), outstanding, "{name}: released anyway");
        assert_footprint(msp, &source, &format!("{name}: trim refused"));
        unsafe { assert_mspace_ok(msp, &format!("{name}: trim refused")) };
        for &(p, size, seed) in &live {
            unsafe { assert_pattern(p.cast(), 0, size, seed, &name) };
        }
        // Everything kept is still served: no new mappings for a while.
        let maps = source.maps.get();
        for i in 0..100u64 {
            let size = 1 + (i as usize * 977) % (100 * KIB);
            live.push((
                alloc_in(msp, &source, size, 20_000 + i, &name),
                size,
                20_000 + i,
            ));
        }
        assert_eq!(
            source.maps.get(),
            maps,
            "{name}: mapped though memory was kept"
        );
        unsafe { assert_mspace_ok(msp, &format!("{name}: reused")) };
        source.assert_clean(&name);

        // Accepting again: trim releases, and the heap is still sound.
        source.refuse_unmap.set(false);
        for (p, _, _) in live.drain(1..) {
            unsafe { mspace_free(msp, p) };
        }
        unsafe { mspace_trim(msp, 0) };
        assert!(
            source.outstanding() < outstanding,
            "{name}: nothing released"
        );
        assert_footprint(msp, &source, &format!("{name}: accepted"));
        unsafe { assert_mspace_ok(msp, &format!("{name}: accepted")) };
        let (p, size, seed) = live[0];
        unsafe { assert_pattern(p.cast(), 0, size, seed, &name) };

        // destroy_mspace with a refusing source: the bytes stay with the
        // source and are not counted.
        source.refuse_unmap.set(true);
        let kept = source.outstanding();
        let refusals = source.refusals.get();
        assert_eq!(
            unsafe { destroy_mspace(msp) },
            0,
            "{name}: destroy counted kept bytes"
        );
        assert!(
            source.refusals.get() > refusals,
            "{name}: destroy never unmapped"
        );
        assert_eq!(source.outstanding(), kept, "{name}");
        source.assert_clean(&name);
    }
    assert_eq!(platform(), before, "the platform's hooks were used");
}

#[test]
fn destroy_gives_every_byte_back_and_counts_it() {
    let _serial = serial();
    let before = platform();
    for (capacity, locked) in [(0, 0), (MIB, 1), (5 * MIB + 123, 0)] {
        let name = format!("capacity {capacity}, locked {locked}");
        let source = Source::new(128 * MIB);
        let msp = create(&source, capacity, locked);
        assert!(!msp.is_null(), "{name}");
        assert!(
            source.outstanding() >= capacity,
            "{name}: first mapping too small"
        );
        let mut rng = Rng::new(capacity as u64);
        let mut live = 0;
        for i in 0..500 {
            let size = match i % 25 {
                0 => rng.range(256 * KIB, 3 * MIB),
                1..=5 => rng.range(10 * KIB, 200 * KIB),
                _ => rng.range(1, 2000),
            };
            let p = alloc_in(msp, &source, size, i, &name);
            if rng.chance(30) {
                unsafe { mspace_free(msp, p) };
            } else {
                live += 1;
            }
        }
        assert!(live > 300, "{name}");
        assert!(source.live.borrow().len() > 10, "{name}: few mappings");
        assert_footprint(msp, &source, &name);
        unsafe { assert_mspace_ok(msp, &name) };
        let outstanding = source.outstanding();
        let unmaps = source.unmaps.get();
        let released = unsafe { destroy_mspace(msp) };
        assert_eq!(released, outstanding, "{name}: destroy_mspace's count");
        assert!(source.unmaps.get() > unmaps, "{name}");
        source.assert_all_returned(&name);
    }
    assert_eq!(platform(), before, "the platform's hooks were used");
}

#[test]
fn a_block_that_keeps_growing_reuses_the_heaps_memory() {
    // A page source has no custom_mremap, so a mapping of its own could
    // grow only by a copy into a new one. A growing block moves into the
    // heap instead, whose memory the next round reuses: a vector built up
    // and dropped over and over stops mapping once the heap's trim
    // threshold has adapted (a few rounds). Up to 4 MiB: the copies of a
    // doubling leave about 2.5 times that in top, and a heap's trim
    // threshold grows to 16 MiB at most on 32-bit targets.
    let _serial = serial();
    let before = platform();
    let source = Source::new(128 * MIB);
    let msp = create(&source, 0, 1);
    assert!(!msp.is_null());
    let mut maps_per_round = Vec::new();
    for round in 0..12u64 {
        let maps = source.maps.get();
        let what = format!("round {round}");
        let mut size = 64;
        let mut p = alloc_in(msp, &source, size, round, &what);
        while size < 4 * MIB {
            let q = unsafe { mspace_realloc(msp, p, 2 * size) };
            assert!(!q.is_null(), "{what}: realloc to {} failed", 2 * size);
            assert!(source.covers(q, 2 * size), "{what}: outside the source");
            unsafe { assert_pattern(q.cast(), 0, size, round, &what) };
            unsafe { fill(q.cast(), size, 2 * size, round) };
            (p, size) = (q, 2 * size);
        }
        unsafe { mspace_free(msp, p) };
        assert_footprint(msp, &source, &what);
        maps_per_round.push(source.maps.get() - maps);
    }
    assert!(
        maps_per_round[6..].iter().all(|&maps| maps == 0),
        "new mappings in each round: {maps_per_round:?}"
    );
    unsafe { assert_mspace_ok(msp, "after the rounds") };
    source.assert_clean("after the rounds");
    unsafe { destroy_mspace(msp) };
    source.assert_all_returned("destroyed after the rounds");
    assert_eq!(platform(), before, "the platform's hooks were used");
}

#[test]
fn a_randomized_run_stays_in_the_source() {
    let _serial = serial();
    let before = platform();
    let source = Source::new(128 * MIB);
    let msp = create(&source, 0, 1);
    assert!(!msp.is_null());
    let mut rng = Rng::new(0x50_07CE);
    let mut blocks: Vec<(*mut c_void, usize, u64)> = Vec::new();
    let mut seed = 0u64;
    for op in 0..4000 {
        let what = format!("op {op}");
        let choice = rng.below(100);
        if blocks.len() < 48 && (blocks.is_empty() || choice < 45) {
            let size = rng.range(1, 600_000);
            seed += 1;
            blocks.push((alloc_in(msp, &source, size, seed, &what), size, seed));
        } else if choice < 75 || blocks.len() >= 48 {
            let (p, size, s) = blocks.swap_remove(rng.below(blocks.len()));
            unsafe { assert_pattern(p.cast(), 0, size, s, &what) };
            unsafe { mspace_free(msp, p) };
        } else if choice < 98 {
            let i = rng.below(blocks.len());
            let (p, size, s) = blocks[i];
            let new_size = rng.range(1, 600_000);
            let q = unsafe { mspace_realloc(msp, p, new_size) };
            assert!(!q.is_null(), "{what}: realloc({size} -> {new_size}) failed");
            assert!(
                source.covers(q, new_size),
                "{what}: realloc'd block outside"
            );
            unsafe { assert_pattern(q.cast(), 0, size.min(new_size), s, &what) };
            if new_size > size {
                unsafe { fill(q.cast(), size, new_size, s) };
            }
            blocks[i] = (q, new_size, s);
        } else {
            unsafe { mspace_trim(msp, rng.below(MIB)) };
        }
        assert_footprint(msp, &source, &what);
        if op % 500 == 0 {
            unsafe { assert_mspace_ok(msp, &what) };
            source.assert_clean(&what);
        }
    }
    assert!(
        source.unmaps.get() > 50,
        "only {} unmaps",
        source.unmaps.get()
    );
    unsafe { assert_mspace_ok(msp, "end of the run") };
    for &(p, size, s) in &blocks {
        assert!(source.covers(p, size), "a live block outside the source");
        unsafe { assert_pattern(p.cast(), 0, size, s, "end of the run") };
    }
    source.assert_clean("end of the run");
    let outstanding = source.outstanding();
    assert_eq!(unsafe { destroy_mspace(msp) }, outstanding);
    source.assert_all_returned("destroyed after the run");
    assert_eq!(platform(), before, "the platform's hooks were used");
}
