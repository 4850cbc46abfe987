//! A randomized model test over three mspaces used at once (a mapped
//! unlocked heap, a mapped locked heap, and a heap over a static buffer that
//! grows with mappings): seeded random allocate / allocate_zeroed / grow /
//! grow_zeroed / shrink / deallocate through the `Allocator` trait, every
//! block's contents verified, a whole-heap check every few hundred
//! operations and at the end, and every page back when the heaps are gone.

use core::mem::MaybeUninit;
use core::ptr::{NonNull, addr_of_mut};

use allocator_api2::alloc::{Allocator, Layout};

use dlmalloc::{Growth, Mspace};
use dlmalloc_platform_std as _;
use dlmalloc_platform_std::mapped_bytes;
use dlmalloc_test_support::{Rng, all_zero, assert_pattern, fill};

const OPERATIONS: usize = 30_000;
const CHECK_EVERY: usize = 300;
const REGION: usize = 256 << 10;

static mut REGION_BUFFER: [MaybeUninit<u8>; REGION] = [MaybeUninit::uninit(); REGION];

/// A live block of the model.
struct Block {
    heap: usize,
    ptr: NonNull<u8>,
    layout: Layout,
    /// The seed of the pattern its bytes hold.
    seed: u64,
}

impl Block {
    /// True when every byte from `from` on is zero.
    fn zero_from(&self, from: usize) -> bool {
        // SAFETY: the block is live and `layout.size()` bytes long.
        unsafe { all_zero(self.ptr.as_ptr().add(from), self.layout.size() - from) }
    }

    /// Writes the pattern from byte `from` on.
    fn fill(&mut self, from: usize) {
        // SAFETY: `[from, size)` is within the live block.
        unsafe { fill(self.ptr.as_ptr(), from, self.layout.size(), self.seed) };
    }

    /// Checks the first `len` bytes, all of them.
    #[track_caller]
    fn verify(&self, len: usize, what: &str) {
        // SAFETY: the block is live and at least `len` bytes long.
        unsafe { assert_pattern(self.ptr.as_ptr(), 0, len, self.seed, what) };
    }
}

/// A random size: mostly small, sometimes medium, rarely large (mapped on
/// its own), now and then zero.
fn size(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..=2 => 0,
        3..=69 => 1 + rng.below(512),
        70..=98 => 512 + rng.below(64 << 10),
        _ => (256 << 10) + rng.below(2 << 20),
    }
}

/// A random alignment: mostly the default or less, sometimes up to 64 KiB.
fn align(rng: &mut Rng) -> usize {
    if rng.below(5) == 0 {
        1 << (4 + rng.below(13))
    } else {
        1 << rng.below(5)
    }
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

#[test]
fn three_heaps_stay_consistent_under_random_operations() {
    let before = mapped_bytes();
    // SAFETY: REGION_BUFFER is used here only, and this test runs once.
    let buffer = unsafe { &mut *addr_of_mut!(REGION_BUFFER) };
    let mapped = Mspace::new(0);
    let locked = Mspace::new_locked(1 << 20);
    let region = Mspace::from_static(buffer, Growth::Grow).unwrap();
    let (a0, a1, a2) = (&mapped, &locked, &region);
    let heaps: [&dyn Allocator; 3] = [&a0, &a1, &a2];
    let check = |when: &str| {
        for (name, result) in [
            ("mapped", mapped.heap_check()),
            ("locked", locked.heap_check()),
            ("region", region.heap_check()),
        ] {
            if let Err(error) = result {
                panic!("{when}: the {name} heap: {error}");
            }
        }
    };

    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut blocks: Vec<Block> = Vec::new();
    let mut counts = [0usize; 6];
    for op in 0..OPERATIONS {
        // Allocate more while few blocks are live, free more when many are.
        let kind = if blocks.is_empty() {
            0
        } else {
            let r = rng.below(100);
            match r {
                0..=29 if blocks.len() < 400 => 0,
                0..=29 => 5,
                30..=39 => 1,
                40..=54 => 2,
                55..=62 => 3,
                63..=79 => 4,
                _ => 5,
            }
        };
        counts[kind] += 1;
        match kind {
            0 | 1 => {
                let heap = rng.below(3);
                let new = layout(size(&mut rng), align(&mut rng));
                let result = if kind == 0 {
                    heaps[heap].allocate(new)
                } else {
                    heaps[heap].allocate_zeroed(new)
                };
                let ptr = result.unwrap_or_else(|_| panic!("op {op}: allocate {new:?} failed"));
                assert!(ptr.len() >= new.size());
                let mut block = Block {
                    heap,
                    ptr: ptr.cast(),
                    layout: new,
                    seed: rng.next_u64(),
                };
                assert_eq!(
                    block.ptr.as_ptr() as usize % new.align(),
                    0,
                    "op {op}: misaligned"
                );
                if kind == 1 {
                    assert!(block.zero_from(0), "op {op}: not zeroed");
                }
                block.fill(0);
                blocks.push(block);
            }
            2 | 3 => {
                let i = rng.below(blocks.len());
                let block = &mut blocks[i];
                let old = block.layout;
                let extra = if rng.below(50) == 0 && old.size() < 4 << 20 {
                    1 << 20
                } else {
                    1 + rng.below(8192)
                };
                let new = layout(old.size() + extra, align(&mut rng));
                block.verify(old.size(), "before grow");
                let heap = heaps[block.heap];
                // SAFETY: the block fits `old` and `new` is larger.
                let result = unsafe {
                    if kind == 2 {
                        heap.grow(block.ptr, old, new)
                    } else {
                        heap.grow_zeroed(block.ptr, old, new)
                    }
                };
                let ptr = result.unwrap_or_else(|_| panic!("op {op}: grow to {new:?} failed"));
                block.ptr = ptr.cast();
                block.layout = new;
                assert_eq!(
                    block.ptr.as_ptr() as usize % new.align(),
                    0,
                    "op {op}: misaligned"
                );
                block.verify(old.size(), "after grow");
                if kind == 3 {
                    assert!(
                        block.zero_from(old.size()),
                        "op {op}: grown part not zeroed"
                    );
                }
                block.fill(old.size());
            }
            4 => {
                let i = rng.below(blocks.len());
                let block = &mut blocks[i];
                let old = block.layout;
                let new = layout(rng.below(old.size() + 1), align(&mut rng));
                // SAFETY: the block fits `old` and `new` is not larger.
                let ptr = unsafe { heaps[block.heap].shrink(block.ptr, old, new) }
                    .unwrap_or_else(|_| panic!("op {op}: shrink to {new:?} failed"));
                block.ptr = ptr.cast();
                block.layout = new;
                assert_eq!(
                    block.ptr.as_ptr() as usize % new.align(),
                    0,
                    "op {op}: misaligned"
                );
                block.verify(new.size(), "after shrink");
            }
            _ => {
                let block = blocks.swap_remove(rng.below(blocks.len()));
                block.verify(block.layout.size(), "before deallocate");
                // SAFETY: the block fits its layout and is freed once.
                unsafe { heaps[block.heap].deallocate(block.ptr, block.layout) };
            }
        }
        if op % CHECK_EVERY == 0 {
            check(&format!("after op {op}"));
        }
    }
    assert!(
        counts.iter().all(|&n| n > 1000),
        "an operation was rarely tried: {counts:?}"
    );
    assert!(
        region.stats().footprint > REGION,
        "the region heap never grew"
    );
    check("at the end");

    for block in blocks.drain(..) {
        block.verify(block.layout.size(), "at the end");
        // SAFETY: the block fits its layout and is freed once.
        unsafe { heaps[block.heap].deallocate(block.ptr, block.layout) };
    }
    check("after freeing everything");
    for heap in [&mapped, &region] {
        assert!(heap.stats().in_use_bytes < 4096, "{}", heap.stats());
    }
    drop((mapped, locked, region));
    assert_eq!(
        mapped_bytes(),
        before,
        "pages of the three heaps are still mapped"
    );
}
