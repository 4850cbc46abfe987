//! Large blocks grow through `custom_mremap`: a directly mapped block that
//! `realloc` grows keeps its mapping (resized, perhaps moved by the kernel
//! with its pages) instead of getting a new one and a copy; and
//! `realloc_in_place` grows it exactly when the pages after it are free.
//! The footprint limit, `mallinfo`, the heap check and the platform's
//! counters all stay consistent, for the global heap and for mspaces.
#![cfg(target_os = "linux")]

use std::ffi::c_void;
use std::ptr;

use dlmalloc_platform_std::{custom_page_size, map_count, mapped_bytes, remap_count, unmap_count};
use dlmalloc_sys::{
    Mspace, create_mspace_with_base, destroy_mspace, dlmalloc_usable_size, dlmemalign,
    mspace_set_footprint_limit,
};
use dlmalloc_test_support::{Heap, assert_pattern, fill, serial};

const MIB: usize = 1 << 20;

// The platform's counters are process-wide and the global heap is shared:
// the tests in this file run one at a time (`serial`).

/// An mspace that is destroyed when the test ends, even by a panic. It
/// lives in a small caller buffer, so its top is small and every block of
/// the sizes used here gets a mapping of its own (a `create_mspace` heap
/// would serve them from its first 2 MiB segment).
struct OwnedSpace {
    msp: Mspace,
    _base: Box<[u8]>,
}

impl OwnedSpace {
    fn new() -> Self {
        let mut base = vec![0u8; 64 << 10].into_boxed_slice();
        // SAFETY: the buffer outlives the mspace (dropped after it, see
        // Drop) and is not otherwise touched while the mspace lives.
        let msp = unsafe { create_mspace_with_base(base.as_mut_ptr().cast(), base.len(), 1) };
        assert!(!msp.is_null(), "create_mspace_with_base failed");
        OwnedSpace { msp, _base: base }
    }

    fn heap(&self) -> Heap {
        // SAFETY: the mspace lives as long as `self`, which every test keeps
        // until it no longer uses the heap; it is locked.
        unsafe { Heap::mspace(self.msp) }
    }
}

impl Drop for OwnedSpace {
    fn drop(&mut self) {
        // SAFETY: created by create_mspace_with_base, destroyed once, no
        // block of it is used afterwards; the buffer is freed after this.
        unsafe { destroy_mspace(self.msp) };
    }
}

/// The platform's counters, read together.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Counters {
    maps: usize,
    unmaps: usize,
    remaps: usize,
    mapped: usize,
}

fn counters() -> Counters {
    Counters {
        maps: map_count(),
        unmaps: unmap_count(),
        remaps: remap_count(),
        mapped: mapped_bytes(),
    }
}

/// The address just past the mapping of directly mapped block `p`: its
/// chunk ends a header word or two before a page boundary.
fn mapping_end(p: *mut u8) -> usize {
    let page = custom_page_size();
    // SAFETY: `p` is a live block.
    let usable = unsafe { dlmalloc_usable_size(p.cast()) };
    (p.addr() + usable).next_multiple_of(page)
}

/// Maps one inaccessible page at exactly `addr` (`MAP_FIXED_NOREPLACE`), so
/// a mapping that ends there cannot grow in place. Returns false when the
/// page is already taken, which blocks growth just as well.
fn block_page_at(addr: usize) -> bool {
    let page = custom_page_size();
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping; it
    // fails with EEXIST instead. Kernels before 4.17 treat it as a hint and
    // may map elsewhere, which is undone below.
    let got = unsafe {
        libc::mmap(
            ptr::without_provenance_mut(addr),
            page,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANON | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if got == libc::MAP_FAILED {
        return false;
    }
    if got.addr() != addr {
        // SAFETY: the page just mapped, at the kernel's choice, unused.
        unsafe { libc::munmap(got, page) };
        panic!("MAP_FIXED_NOREPLACE placed the page elsewhere: kernel before 4.17?");
    }
    true
}

fn unblock_page_at(addr: usize) {
    // SAFETY: the page `block_page_at` mapped there; nothing uses it.
    let rc = unsafe {
        libc::munmap(
            ptr::without_provenance_mut::<c_void>(addr),
            custom_page_size(),
        )
    };
    assert_eq!(rc, 0, "unmapping the blocking page");
}

/// Allocates a block of `bytes` that must get a mapping of its own, filled
/// with the pattern for `seed`.
fn mapped_block(heap: Heap, bytes: usize, seed: u64) -> *mut u8 {
    let chunks = heap.mallinfo().hblks;
    let p = heap.malloc(bytes);
    assert!(!p.is_null(), "malloc({bytes})");
    assert_eq!(
        heap.mallinfo().hblks,
        chunks + 1,
        "a {bytes}-byte block did not get a mapping of its own"
    );
    // SAFETY: a fresh block of `bytes` bytes.
    unsafe { fill(p, 0, bytes, seed) };
    p
}

/// Checks that the heap's own accounts agree with themselves and with the
/// platform: mallinfo's mapped bytes and footprint, and the platform's
/// mapped bytes relative to a starting point.
fn assert_accounts(heap: Heap, start: (usize, usize), when: &str) {
    let (footprint0, mapped0) = start;
    heap.assert_mallinfo_exact(when);
    let footprint = heap.footprint();
    assert_eq!(
        mapped_bytes() as isize - mapped0 as isize,
        footprint as isize - footprint0 as isize,
        "{when}: the platform's mapped bytes and the heap's footprint moved differently"
    );
    heap.assert_ok(when);
}

/// Grows one mapped block from 1 MiB to 64 MiB by doubling, then back down,
/// next to two other mapped blocks (so the mapping ring has neighbours whose
/// links must follow a move). Returns how many steps moved the block.
fn doubling_growth(heap: Heap) -> usize {
    let start = (heap.footprint(), mapped_bytes());
    let before = heap.mallinfo();
    let left = mapped_block(heap, 512 << 10, 1);
    let mut p = mapped_block(heap, MIB, 2);
    let right = mapped_block(heap, 512 << 10, 3);
    let mut size = MIB;
    let mut moves = 0;
    while size < 64 * MIB {
        let new = size * 2;
        let was = counters();
        let hblkhd = heap.mallinfo().hblkhd;
        // SAFETY: `p` is a live block of this heap.
        let q = unsafe { heap.realloc(p, new) };
        assert!(!q.is_null(), "realloc({size} -> {new})");
        let now = counters();
        assert_eq!(
            now.maps, was.maps,
            "growing to {new} mapped new memory (a copy)"
        );
        assert_eq!(now.remaps, was.remaps + 1, "growing to {new} did not remap");
        assert_eq!(now.unmaps, was.unmaps, "growing to {new} unmapped memory");
        let grown = heap.mallinfo().hblkhd - hblkhd;
        assert!(
            grown >= new - size,
            "hblkhd grew by {grown} for {size} -> {new}"
        );
        assert_eq!(
            now.mapped - was.mapped,
            grown,
            "platform and heap disagree on the growth"
        );
        if q != p {
            moves += 1;
        }
        // SAFETY: `q` holds `new` bytes, of which `size` were copied over.
        unsafe {
            assert_pattern(q, 0, size, 2, &format!("after growing {size} -> {new}"));
            fill(q, size, new, 2);
        }
        p = q;
        size = new;
        assert_accounts(heap, start, &format!("after growing to {new}"));
    }
    assert!(heap.footprint() <= heap.max_footprint());
    while size > MIB {
        let new = size / 2;
        let was = counters();
        // SAFETY: `p` is a live block of this heap.
        let q = unsafe { heap.realloc(p, new) };
        assert_eq!(q, p, "shrinking a mapped block {size} -> {new} moved it");
        let now = counters();
        assert_eq!(now.maps, was.maps, "shrinking to {new} mapped memory");
        assert!(
            now.mapped < was.mapped,
            "shrinking to {new} gave nothing back"
        );
        // SAFETY: `p` holds `new` bytes.
        unsafe { assert_pattern(p, 0, new, 2, &format!("after shrinking to {new}")) };
        size = new;
        assert_accounts(heap, start, &format!("after shrinking to {new}"));
    }
    // SAFETY: all three are live blocks of this heap, each freed once.
    unsafe {
        assert_pattern(left, 0, 512 << 10, 1, "left neighbour");
        assert_pattern(right, 0, 512 << 10, 3, "right neighbour");
        heap.free(left);
        heap.free(p);
        heap.free(right);
    }
    let after = heap.mallinfo();
    assert_eq!(
        after.hblks, before.hblks,
        "mapped chunk count after freeing"
    );
    assert_eq!(after.hblkhd, before.hblkhd, "mapped bytes after freeing");
    assert_accounts(heap, start, "after freeing");
    moves
}

#[test]
fn realloc_grows_a_mapped_block_by_remapping_not_copying() {
    let _serial = serial();
    let moves = doubling_growth(Heap::GLOBAL);
    eprintln!("global heap: 6 doublings, {moves} of them moved the mapping");
}

#[test]
fn realloc_grows_a_mapped_block_of_an_mspace_by_remapping() {
    let _serial = serial();
    let space = OwnedSpace::new();
    let moves = doubling_growth(space.heap());
    eprintln!("mspace: 6 doublings, {moves} of them moved the mapping");
}

#[test]
fn many_small_growth_steps_need_no_new_mapping() {
    let _serial = serial();
    let heap = Heap::GLOBAL;
    let start = (heap.footprint(), mapped_bytes());
    let mut p = mapped_block(heap, MIB, 4);
    let mut size = MIB;
    let was = counters();
    for step in 1..=48 {
        let new = size + 100_003; // not a page multiple: exercises rounding
        // SAFETY: `p` is a live block of this heap.
        let q = unsafe { heap.realloc(p, new) };
        assert!(!q.is_null(), "step {step}: realloc({size} -> {new})");
        // SAFETY: `q` holds `new` bytes; the first `size` came from `p`.
        unsafe {
            assert_pattern(q, 0, size, 4, &format!("step {step}"));
            fill(q, size, new, 4);
        }
        p = q;
        size = new;
    }
    let now = counters();
    assert_eq!(now.maps, was.maps, "small growth steps mapped new memory");
    assert!(
        now.remaps - was.remaps <= 48,
        "more remaps than growth steps: {} ",
        now.remaps - was.remaps
    );
    assert_accounts(heap, start, "after 48 small steps");
    // SAFETY: a live block, freed once.
    unsafe { heap.free(p) };
    assert_accounts(heap, start, "after freeing");
}

#[test]
fn an_over_aligned_mapped_block_grows_with_its_offset() {
    let _serial = serial();
    let heap = Heap::GLOBAL;
    let start = (heap.footprint(), mapped_bytes());
    let chunks = heap.mallinfo().hblks;
    // SAFETY: a power-of-two alignment; no other preconditions.
    let p = unsafe { dlmemalign(64 << 10, 2 * MIB) }.cast::<u8>();
    assert!(!p.is_null());
    assert_eq!(p.addr() % (64 << 10), 0);
    assert_eq!(
        heap.mallinfo().hblks,
        chunks + 1,
        "the aligned block is not mapped"
    );
    // SAFETY: a fresh block of 2 MiB.
    unsafe { fill(p, 0, 2 * MIB, 5) };
    let was = counters();
    // SAFETY: a live block of the global heap.
    let q = unsafe { heap.realloc(p, 16 * MIB) };
    assert!(!q.is_null());
    assert_eq!(
        counters().maps,
        was.maps,
        "growing the aligned block copied it"
    );
    // SAFETY: `q` holds 16 MiB, the first 2 from `p`.
    unsafe {
        assert_pattern(q, 0, 2 * MIB, 5, "the grown aligned block");
        fill(q, 2 * MIB, 16 * MIB, 5);
    }
    assert_accounts(heap, start, "after growing the aligned block");
    // SAFETY: a live block, freed once.
    unsafe { heap.free(q) };
    assert_eq!(heap.mallinfo().hblks, chunks);
    assert_accounts(heap, start, "after freeing the aligned block");
}

/// `realloc_in_place` on `heap`: shrink a mapped block (its tail pages go
/// back, leaving them free), grow it back into them in place; then with a
/// page mapped just past its end, growth fails and the block is intact.
fn in_place_growth(heap: Heap) {
    let start = (heap.footprint(), mapped_bytes());
    let p = mapped_block(heap, 8 * MIB, 6);
    // SAFETY: `p` is a live block of this heap in every call below.
    unsafe {
        assert_eq!(heap.realloc_in_place(p, MIB), p, "shrinking in place");
        assert_pattern(p, 0, MIB, 6, "after shrinking in place");
        assert_accounts(heap, start, "after shrinking in place");

        // The tail just given back is free: growing into it needs no move.
        let was = counters();
        assert_eq!(
            heap.realloc_in_place(p, 4 * MIB),
            p,
            "growing into free pages"
        );
        assert_eq!(counters().remaps, was.remaps + 1);
        assert_eq!(counters().maps, was.maps);
        assert_pattern(p, 0, MIB, 6, "after growing in place");
        fill(p, MIB, 4 * MIB, 6);
        assert_accounts(heap, start, "after growing in place");

        // Something mapped right after the block: no room, no change.
        let end = mapping_end(p);
        let blocker = block_page_at(end);
        let was = counters();
        let footprint = heap.footprint();
        let usable = dlmalloc_usable_size(p.cast());
        assert!(
            heap.realloc_in_place(p, 6 * MIB).is_null(),
            "grew over a mapped page"
        );
        assert_eq!(
            counters(),
            was,
            "a failed in-place growth changed the mappings"
        );
        assert_eq!(heap.footprint(), footprint);
        assert_eq!(dlmalloc_usable_size(p.cast()), usable);
        assert_pattern(p, 0, 4 * MIB, 6, "after a failed in-place growth");
        assert_accounts(heap, start, "after a failed in-place growth");

        // realloc may move, so it still grows the block, without a copy.
        let q = heap.realloc(p, 6 * MIB);
        assert!(!q.is_null());
        assert_ne!(q, p, "realloc grew over a mapped page");
        assert_eq!(counters().maps, was.maps, "the move copied");
        assert_pattern(q, 0, 4 * MIB, 6, "after the moving growth");
        if blocker {
            unblock_page_at(end);
        }
        assert_accounts(heap, start, "after the moving growth");
        heap.free(q);
    }
    assert_accounts(heap, start, "after freeing");
}

#[test]
fn realloc_in_place_grows_a_mapped_block_only_into_free_pages() {
    let _serial = serial();
    in_place_growth(Heap::GLOBAL);
}

#[test]
fn mspace_realloc_in_place_grows_a_mapped_block_only_into_free_pages() {
    let _serial = serial();
    let space = OwnedSpace::new();
    in_place_growth(space.heap());
}

#[test]
fn growth_beyond_the_footprint_limit_fails_and_keeps_the_block() {
    let _serial = serial();
    let space = OwnedSpace::new();
    let heap = space.heap();
    let msp = space.msp;
    let start = (heap.footprint(), mapped_bytes());
    let p = mapped_block(heap, 2 * MIB, 7);
    let footprint = heap.footprint();
    // Room for 1 MiB more: enough for 2.5 MiB, not for 4 MiB (and not for
    // a second mapping of either size, so the copy path cannot help).
    // SAFETY: a live mspace.
    unsafe { mspace_set_footprint_limit(msp, footprint + MIB) };
    let was = counters();
    // SAFETY: `p` is a live block of this mspace.
    unsafe {
        assert!(
            heap.realloc(p, 4 * MIB).is_null(),
            "realloc grew past the footprint limit"
        );
        assert!(
            heap.realloc_in_place(p, 4 * MIB).is_null(),
            "realloc_in_place grew past the limit"
        );
        assert_eq!(counters(), was, "a refused growth changed the mappings");
        assert_eq!(heap.footprint(), footprint);
        assert_pattern(p, 0, 2 * MIB, 7, "after the refused growth");
        assert_accounts(heap, start, "after the refused growth");

        let q = heap.realloc(p, 2 * MIB + MIB / 2);
        assert!(!q.is_null(), "a growth within the limit failed");
        assert!(heap.footprint() <= footprint + MIB);
        assert_eq!(counters().maps, was.maps);
        assert_pattern(q, 0, 2 * MIB, 7, "after the growth within the limit");
        assert_accounts(heap, start, "after the growth within the limit");
        heap.free(q);
    }
}
