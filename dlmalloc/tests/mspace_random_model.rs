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

const OPERATIONS: usize = 30_000;
const CHECK_EVERY: usize = 300;
const REGION: usize = 256 << 10;

static mut REGION_BUFFER: [MaybeUninit<u8>; REGION] = [MaybeUninit::uninit(); REGION];

/// A xorshift generator with a fixed seed: the same run every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// A live block of the model.
struct Block {
    heap: usize,
    ptr: NonNull<u8>,
    layout: Layout,
    /// Byte `i` holds `seed + i`.
    seed: u8,
}

impl Block {
    fn bytes(&self) -> &[u8] {
        // SAFETY: the block is live and `layout.size()` bytes long (a
        // zero-size block is a dangling, aligned, empty slice).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }

    /// Writes the pattern from byte `from` on, a 256-byte period at a time.
    fn fill(&mut self, from: usize) {
        let period: [u8; 256] = core::array::from_fn(|k| self.seed.wrapping_add(k as u8));
        let mut i = from;
        while i < self.layout.size() {
            let phase = i % 256;
            let len = (256 - phase).min(self.layout.size() - i);
            // SAFETY: `[i, i + len)` is within the live block, and the
            // pattern is a separate array.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    period[phase..].as_ptr(),
                    self.ptr.add(i).as_ptr(),
                    len,
                )
            };
            i += len;
        }
    }

    /// Checks the first `len` bytes: all of them in a small block, in a
    /// large one the first and last KiB and every 61st byte between (a
    /// stride prime to the pattern's period, so shifted copies show).
    fn verify(&self, len: usize, what: &str) {
        let bytes = &self.bytes()[..len];
        let wrong = |i: usize| bytes[i] != self.seed.wrapping_add(i as u8);
        let found = if len <= 16 << 10 {
            (0..len).find(|&i| wrong(i))
        } else {
            (0..1024)
                .chain((1024..len - 1024).step_by(61))
                .chain(len - 1024..len)
                .find(|&i| wrong(i))
        };
        if let Some(i) = found {
            panic!(
                "{what}: byte {i} of a {} byte block changed",
                self.layout.size()
            );
        }
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

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
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
                    seed: rng.next() as u8,
                };
                assert_eq!(
                    block.ptr.as_ptr() as usize % new.align(),
                    0,
                    "op {op}: misaligned"
                );
                if kind == 1 {
                    assert!(block.bytes().iter().all(|&b| b == 0), "op {op}: not zeroed");
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
                        block.bytes()[old.size()..].iter().all(|&b| b == 0),
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
