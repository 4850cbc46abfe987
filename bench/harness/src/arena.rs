//! Fixed-arena utilisation: how much of a fresh 16 MiB region an allocator
//! lets a program actually use. Blocks are allocated (and some freed) until
//! the first null; the score is the peak of live bytes over the region's
//! size. One fill draws random sizes; the others ask for one size only, so
//! the per-block overhead of small blocks shows instead of averaging out.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use crate::rng::Rng;
use crate::stamp;
use crate::table::ALIGN;

/// The size of the region every arena allocator gets.
pub const REGION: usize = 16 << 20;

/// A memory region from `mmap`, unmapped on drop.
pub struct Region {
    base: NonNull<u8>,
    len: usize,
}

impl Region {
    /// A fresh anonymous mapping of `len` bytes, reserved lazily (pages
    /// are only backed once touched).
    ///
    /// # Panics
    ///
    /// If the system refuses the mapping.
    pub fn map(len: usize) -> Region {
        // SAFETY: an anonymous private mapping touches no existing memory.
        let ptr = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert!(
            ptr != libc::MAP_FAILED,
            "cannot map a region of {len} bytes"
        );
        Region {
            base: NonNull::new(ptr.cast()).expect("mmap never returns null"),
            len,
        }
    }

    /// The first byte of the region.
    pub fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// The region's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty (never: `map` asks for bytes).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Leaks the region: for an allocator that lives as long as the process.
    pub fn leak(self) -> (NonNull<u8>, usize) {
        let parts = (self.base, self.len);
        core::mem::forget(self);
        parts
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and nothing uses it any more.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// An allocator that can be built inside a region the caller provides.
pub struct ArenaContender {
    /// Its column name.
    pub name: &'static str,
    /// Builds it over `[base, base + len)`; the allocator is dropped (with
    /// blocks still live) before the region is unmapped.
    pub make: fn(base: NonNull<u8>, len: usize) -> Box<dyn GlobalAlloc>,
}

/// How a fill picks the size of each block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sizes {
    /// Uniform in 16..=4096 bytes: a general-purpose mix.
    Random,
    /// Every block exactly this many bytes (at least 16, room for the two
    /// stamps).
    Fixed(usize),
}

impl Sizes {
    /// The smallest and largest size of a block (the same for a fixed
    /// size).
    const RANDOM_RANGE: (usize, usize) = (16, 4096);

    /// The size of the next block.
    fn next(self, rng: &mut Rng) -> usize {
        match self {
            Sizes::Random => rng.size(Self::RANDOM_RANGE.0, Self::RANDOM_RANGE.1),
            Sizes::Fixed(size) => size,
        }
    }

    /// A short description for a table header.
    pub fn describe(self) -> String {
        match self {
            Sizes::Random => format!(
                "{}..={} B random",
                Self::RANDOM_RANGE.0,
                Self::RANDOM_RANGE.1
            ),
            Sizes::Fixed(size) => format!("{size} B"),
        }
    }
}

/// One fill of the region: its workload name in the raw rows and the report,
/// and how it sizes its blocks.
#[derive(Clone, Copy, Debug)]
pub struct Fill {
    /// The workload name (`arena-16m...`).
    pub name: &'static str,
    /// The size of every block.
    pub sizes: Sizes,
}

/// Every fill, in report column order: the random mix first (the long-
/// standing `arena-16m` row), then fixed sizes from the smallest, where a
/// block header costs the most.
pub const FILLS: &[Fill] = &[
    Fill {
        name: "arena-16m",
        sizes: Sizes::Random,
    },
    Fill {
        name: "arena-16m-16b",
        sizes: Sizes::Fixed(16),
    },
    Fill {
        name: "arena-16m-64b",
        sizes: Sizes::Fixed(64),
    },
    Fill {
        name: "arena-16m-256b",
        sizes: Sizes::Fixed(256),
    },
    Fill {
        name: "arena-16m-1k",
        sizes: Sizes::Fixed(1024),
    },
];

/// What the fill reached.
#[derive(Clone, Copy, Debug)]
pub struct Utilisation {
    /// The most bytes live at once (as asked, not as rounded by the
    /// allocator).
    pub peak_live: usize,
    /// The size of the region.
    pub region: usize,
}

impl Utilisation {
    /// Peak live bytes over the region size: the score.
    pub fn ratio(self) -> f64 {
        self.peak_live as f64 / self.region as f64
    }
}

/// Fills a fresh region through `contender` until the first null: each
/// step allocates a block sized by `sizes` with probability 3/4, or frees a
/// random live block. Every block is verified before it is freed, and
/// those still live at the end are verified before the region goes.
pub fn utilisation(contender: &ArenaContender, sizes: Sizes) -> Utilisation {
    let region = Region::map(REGION);
    let alloc = (contender.make)(region.base(), region.len());
    let what = format!("{} / arena {}", contender.name, sizes.describe());
    // The same seed for every fill: the random fill keeps the sequence it
    // always had, so its numbers stay comparable with earlier runs.
    let mut rng = Rng::new(0xa7e4a);
    let mut live: Vec<(*mut u8, usize, u64)> = Vec::with_capacity(REGION / 16);
    let mut live_bytes = 0usize;
    let mut peak_live = 0usize;
    let mut id = 0u64;
    loop {
        if live.is_empty() || rng.chance(75) {
            let size = sizes.next(&mut rng);
            let layout = Layout::from_size_align(size, ALIGN).unwrap();
            // SAFETY: non-zero size.
            let ptr = unsafe { alloc.alloc(layout) };
            if ptr.is_null() {
                break;
            }
            stamp::check_fresh(ptr, layout, &what);
            id += 1;
            // SAFETY: a fresh block of `size` >= 16 bytes.
            unsafe { stamp::write(ptr, size, stamp::tag(id)) };
            live.push((ptr, size, stamp::tag(id)));
            live_bytes += size;
            peak_live = peak_live.max(live_bytes);
            assert!(
                live_bytes <= REGION,
                "{what}: more live bytes than the region holds"
            );
        } else {
            let (ptr, size, tag) = live.swap_remove(rng.below(live.len()));
            // SAFETY: a live block of this allocator, stamped by us.
            unsafe {
                stamp::check(ptr, size, tag, &what);
                alloc.dealloc(ptr, Layout::from_size_align(size, ALIGN).unwrap());
            }
            live_bytes -= size;
        }
    }
    // The blocks still live are checked but not freed: the region goes
    // back to the system whole, and freeing them one by one would cost a
    // heap that keeps its free blocks in one sorted list (linked_list,
    // emb-llff) a walk of that list per block, minutes for the million
    // blocks of the 16-byte fill, and add nothing to the score.
    for (ptr, size, tag) in live {
        // SAFETY: a live block of this allocator, stamped by us.
        unsafe { stamp::check(ptr, size, tag, &what) };
    }
    drop(alloc);
    Utilisation {
        peak_live,
        region: region.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_names_are_distinct_and_fixed_sizes_hold_the_stamps() {
        for (i, fill) in FILLS.iter().enumerate() {
            assert!(fill.name.starts_with("arena-16m"));
            assert!(FILLS[..i].iter().all(|f| f.name != fill.name));
            if let Sizes::Fixed(size) = fill.sizes {
                assert!(size >= 16, "{}: a block must hold two stamps", fill.name);
            }
        }
        assert_eq!(FILLS[0].name, "arena-16m", "the random fill keeps its name");
    }
}
