//! Fixed-arena utilisation: how much of a fresh 16 MiB region an allocator
//! lets a program actually use. Random sizes are allocated (and some freed)
//! until the first null; the score is the peak of live bytes over the
//! region's size.

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
    /// Builds it over `[base, base + len)`; the allocator is dropped before
    /// the region is unmapped.
    pub make: fn(base: NonNull<u8>, len: usize) -> Box<dyn GlobalAlloc>,
}

/// What the fill reached.
#[derive(Clone, Copy, Debug)]
pub struct Utilisation {
    /// The most bytes live at once (as asked, not as rounded by the
    /// allocator).
    pub peak_live: usize,
    /// The size of the region.
    pub region: usize,
}

/// Fills a fresh region through `contender` until the first null: each
/// step allocates 16..=4096 bytes with probability 3/4, or frees a random
/// live block. Every block is verified before it is freed.
pub fn utilisation(contender: &ArenaContender) -> Utilisation {
    let region = Region::map(REGION);
    let alloc = (contender.make)(region.base(), region.len());
    let what = format!("{} / arena", contender.name);
    let mut rng = Rng::new(0xa7e4a);
    let mut live: Vec<(*mut u8, usize, u64)> = Vec::with_capacity(REGION / 16);
    let mut live_bytes = 0usize;
    let mut peak_live = 0usize;
    let mut id = 0u64;
    loop {
        if live.is_empty() || rng.chance(75) {
            let size = rng.size(16, 4096);
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
    for (ptr, size, tag) in live {
        // SAFETY: a live block of this allocator, stamped by us.
        unsafe {
            stamp::check(ptr, size, tag, &what);
            alloc.dealloc(ptr, Layout::from_size_align(size, ALIGN).unwrap());
        }
    }
    drop(alloc);
    Utilisation {
        peak_live,
        region: region.len(),
    }
}
