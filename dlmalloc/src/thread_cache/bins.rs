//! One thread's cached blocks: a singly linked LIFO list per size class,
//! threaded through the blocks themselves, with the bounds that keep a
//! thread from hoarding memory.
//!
//! A cached block is, for the C core, still an in-use chunk; only this
//! thread knows it is free. Its first word holds the link to the next
//! cached block of its class, stored masked with a per-process secret and
//! the block's own address (so a stray write or a forged link is noticed,
//! not followed), and its second word holds a tag that marks it cached (so
//! a second free of the same block is caught here, where the core cannot
//! see it).

use core::ptr;

use dlmalloc_sys::{CHUNK_OVERHEAD, MALLOC_ALIGNMENT, chunk_size_for};

/// Largest chunk size kept in a thread cache: blocks of requests up to
/// [`MAX_CACHED_REQUEST`] bytes.
pub(crate) const MAX_CACHED_CHUNK: usize = 1024;
/// The largest request served from the cache.
pub(crate) const MAX_CACHED_REQUEST: usize = MAX_CACHED_CHUNK - CHUNK_OVERHEAD;
/// Size classes: one per chunk size, `MALLOC_ALIGNMENT` apart.
pub(crate) const CLASSES: usize = MAX_CACHED_CHUNK / MALLOC_ALIGNMENT + 1;
/// Most blocks kept per class. A full class gives its older half back to
/// the heap in one locked call.
pub(crate) const MAX_PER_CLASS: usize = 32;
/// Most bytes (chunk sizes) one thread keeps cached; past it, frees go
/// straight to the heap.
const MAX_CACHED_BYTES: usize = 512 << 10;
/// After this many frees in a row with no allocation, the thread is
/// releasing memory, not recycling it: its cache is given back and its
/// frees go straight to the heap until it allocates again. Otherwise the
/// last cached blocks, scattered over the heap, would keep whole segments
/// from being returned to the system after a program frees everything.
const FREES_BEFORE_DRAINING: usize = 4096;

/// The class of a block allocated (or freed) with a request of `size`
/// bytes (`1..=MAX_CACHED_REQUEST`): its chunk size in alignment units.
/// Every block of the class has at least `class * MALLOC_ALIGNMENT -
/// CHUNK_OVERHEAD` usable bytes, enough for any request of the class.
#[inline]
pub(crate) fn class_of(size: usize) -> usize {
    chunk_size_for(size) / MALLOC_ALIGNMENT
}

/// The largest request of `class`: a block for it has exactly the class's
/// chunk size when carved from free memory.
#[inline]
pub(crate) fn class_request(class: usize) -> usize {
    class * MALLOC_ALIGNMENT - CHUNK_OVERHEAD
}

/// Why a cached block cannot be trusted; the caller aborts with it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Corruption {
    /// The block is already in this thread's cache: a double free.
    DoubleFree,
    /// A link read from a cached block is not a block address: the block
    /// was written to after it was freed, or the list was forged.
    BrokenLink,
}

/// The head of one class's list.
#[derive(Clone, Copy)]
struct Class {
    head: *mut u8,
    count: usize,
}

/// A thread's cached blocks, by class. Only the owning thread touches it,
/// except a flusher that has stopped the owner (see the registry).
pub(crate) struct Bins {
    classes: [Class; CLASSES],
    cached_bytes: usize,
    /// Frees since this thread last allocated through the cache.
    frees_in_a_row: usize,
}

/// What [`Bins::push`] did with a block.
pub(crate) enum Pushed {
    /// Cached.
    Cached,
    /// Not cached: the thread's byte bound is reached; the caller frees the
    /// block to the heap.
    Refused,
    /// Cached, and the class's older half left the cache as a list (linked
    /// like the cache's own, starting at this block) for the caller to give
    /// back with [`Bins::drain_list`].
    CachedEvicting(*mut u8),
    /// Not cached, and the thread has freed so much in a row that the
    /// caller should give the whole cache back ([`Bins::take_all`]) too.
    RefusedDrainAll,
}

impl Bins {
    /// Empty bins.
    pub(crate) const fn new() -> Bins {
        Bins {
            classes: [Class {
                head: ptr::null_mut(),
                count: 0,
            }; CLASSES],
            cached_bytes: 0,
            frees_in_a_row: 0,
        }
    }

    /// Takes a cached block of `class`, or null if there is none.
    ///
    /// # Safety
    ///
    /// Every block in the bins is a live in-use block of at least two words
    /// that nobody else uses (true of blocks pushed by [`push`](Bins::push)
    /// under its contract).
    #[inline]
    pub(crate) unsafe fn pop(
        &mut self,
        class: usize,
        secret: usize,
    ) -> Result<*mut u8, Corruption> {
        self.frees_in_a_row = 0;
        let entry = &mut self.classes[class];
        let block = entry.head;
        if block.is_null() {
            return Ok(block);
        }
        // SAFETY: `block` is a cached block (contract), two words long and
        // aligned, owned by this cache.
        let (link, tag) = unsafe { (block.cast::<usize>().read(), block.cast::<usize>().add(1)) };
        let next = unmask(link, block, secret);
        if next.addr() % MALLOC_ALIGNMENT != 0 || (next.is_null() != (entry.count == 1)) {
            return Err(Corruption::BrokenLink);
        }
        // SAFETY: as above; clearing the tag keeps a block that is in use
        // again from looking cached.
        unsafe { tag.write(0) };
        entry.head = next;
        entry.count -= 1;
        self.cached_bytes -= class * MALLOC_ALIGNMENT;
        Ok(block)
    }

    /// Caches `block` in `class`; see [`Pushed`] for the outcomes.
    ///
    /// # Safety
    ///
    /// `block` is a live in-use block of the class (allocated with a request
    /// of that class or larger, below [`MAX_CACHED_REQUEST`]) that the caller
    /// gives up, whose second word holds a defined value (the program's, or
    /// the one `thread_cache::prepare` wrote: it is read to recognise a
    /// double free), and every block already in the bins is as
    /// [`pop`](Bins::pop) requires.
    #[inline]
    pub(crate) unsafe fn push(
        &mut self,
        block: *mut u8,
        class: usize,
        secret: usize,
    ) -> Result<Pushed, Corruption> {
        self.frees_in_a_row += 1;
        if self.frees_in_a_row >= FREES_BEFORE_DRAINING {
            return Ok(if self.frees_in_a_row == FREES_BEFORE_DRAINING {
                Pushed::RefusedDrainAll
            } else {
                Pushed::Refused
            });
        }
        let bytes = class * MALLOC_ALIGNMENT;
        if self.cached_bytes + bytes > MAX_CACHED_BYTES {
            return Ok(Pushed::Refused);
        }
        let tag_value = tag(secret);
        // SAFETY: `block` is live and at least two words long (contract).
        let tag_slot = unsafe { block.cast::<usize>().add(1) };
        // SAFETY: as above.
        if unsafe { tag_slot.read() } == tag_value && self.contains(class, block, secret) {
            return Err(Corruption::DoubleFree);
        }
        let mut pushed = Pushed::Cached;
        if self.classes[class].count == MAX_PER_CLASS {
            // SAFETY: the bins hold only cached blocks (contract).
            pushed = Pushed::CachedEvicting(unsafe { self.split_off_older_half(class, secret) });
        }
        let entry = &mut self.classes[class];
        // SAFETY: the caller gave the block up; its first two words now hold
        // the masked link and the cached tag.
        unsafe {
            block.cast::<usize>().write(mask(entry.head, block, secret));
            tag_slot.write(tag_value);
        }
        entry.head = block;
        entry.count += 1;
        self.cached_bytes += bytes;
        Ok(pushed)
    }

    /// Caches fresh blocks of `class` taken from the heap by a refill, as
    /// far as the class's and the thread's bounds admit; returns how many of
    /// `blocks` (a prefix) it took. Unlike [`push`](Bins::push) it reads
    /// nothing from the blocks (they hold no tag yet, and no data).
    ///
    /// # Safety
    ///
    /// `blocks` are live blocks of the class, fresh from the heap and
    /// handed to no one else.
    pub(crate) unsafe fn adopt_fresh(
        &mut self,
        blocks: &[*mut u8],
        class: usize,
        secret: usize,
    ) -> usize {
        let bytes = class * MALLOC_ALIGNMENT;
        let tag_value = tag(secret);
        let mut taken = 0;
        for &block in blocks {
            let entry = &mut self.classes[class];
            if entry.count == MAX_PER_CLASS || self.cached_bytes + bytes > MAX_CACHED_BYTES {
                break;
            }
            // SAFETY: a fresh block of at least two words (contract).
            unsafe {
                block.cast::<usize>().write(mask(entry.head, block, secret));
                block.cast::<usize>().add(1).write(tag_value);
            }
            entry.head = block;
            entry.count += 1;
            self.cached_bytes += bytes;
            taken += 1;
        }
        taken
    }

    /// Whether `block` is in `class`'s list (walks at most
    /// [`MAX_PER_CLASS`] links; only when the tag says it may be).
    fn contains(&self, class: usize, block: *mut u8, secret: usize) -> bool {
        let mut at = self.classes[class].head;
        for _ in 0..self.classes[class].count {
            if at == block {
                return true;
            }
            // SAFETY: `at` is a cached block of this list.
            at = unmask(unsafe { at.cast::<usize>().read() }, at, secret);
        }
        false
    }

    /// Detaches the older half of a full `class` and returns its first
    /// block; the detached blocks stay linked (the last link is null).
    ///
    /// # Safety
    ///
    /// The bins hold only cached blocks.
    #[cold]
    unsafe fn split_off_older_half(&mut self, class: usize, secret: usize) -> *mut u8 {
        let keep = MAX_PER_CLASS / 2;
        let entry = &mut self.classes[class];
        let mut last_kept = entry.head;
        for _ in 1..keep {
            // SAFETY: `last_kept` is a cached block of this list.
            last_kept = unmask(
                unsafe { last_kept.cast::<usize>().read() },
                last_kept,
                secret,
            );
        }
        // SAFETY: as above; `last_kept` now ends the kept list.
        let evicted = unsafe {
            let first = unmask(last_kept.cast::<usize>().read(), last_kept, secret);
            last_kept
                .cast::<usize>()
                .write(mask(ptr::null_mut(), last_kept, secret));
            first
        };
        self.cached_bytes -= (entry.count - keep) * class * MALLOC_ALIGNMENT;
        entry.count = keep;
        evicted
    }

    /// Walks a list of blocks that left the cache (from
    /// [`Pushed::CachedEvicting`]), clearing each block's tag and calling
    /// `give_back` with it. Stops with an error at a link that is not a
    /// block address (the rest stays with the core as in use).
    ///
    /// # Safety
    ///
    /// `first` starts such a list, of at most [`MAX_PER_CLASS`] blocks.
    pub(crate) unsafe fn drain_list(
        first: *mut u8,
        secret: usize,
        mut give_back: impl FnMut(*mut u8),
    ) -> Result<(), Corruption> {
        let mut at = first;
        for _ in 0..MAX_PER_CLASS {
            if at.is_null() {
                return Ok(());
            }
            if at.addr() % MALLOC_ALIGNMENT != 0 {
                return Err(Corruption::BrokenLink);
            }
            // SAFETY: `at` is a block of the list (contract).
            let next = unsafe {
                let next = unmask(at.cast::<usize>().read(), at, secret);
                at.cast::<usize>().add(1).write(0);
                next
            };
            give_back(at);
            at = next;
        }
        if at.is_null() {
            Ok(())
        } else {
            Err(Corruption::BrokenLink)
        }
    }

    /// Detaches every class's list (each for [`Bins::drain_list`]) and
    /// leaves the bins empty.
    pub(crate) fn take_all(&mut self) -> [*mut u8; CLASSES] {
        let mut lists = [ptr::null_mut(); CLASSES];
        for (list, entry) in lists.iter_mut().zip(self.classes.iter_mut()) {
            *list = entry.head;
            *entry = Class {
                head: ptr::null_mut(),
                count: 0,
            };
        }
        self.cached_bytes = 0;
        lists
    }
}

/// The link stored in a cached block: the next block's address masked with
/// the block's own page number and the secret.
#[inline]
fn mask(next: *mut u8, at: *mut u8, secret: usize) -> usize {
    next.addr() ^ (at.addr() >> 12) ^ secret
}

/// Inverse of [`mask`]. The result keeps `at`'s provenance: every cached
/// block lives in memory the core handed out, which the caller may reach.
#[inline]
fn unmask(link: usize, at: *mut u8, secret: usize) -> *mut u8 {
    at.with_addr(link ^ (at.addr() >> 12) ^ secret)
}

/// The second word of a cached block.
#[inline]
fn tag(secret: usize) -> usize {
    secret.rotate_left(17) ^ 0x5a5a_5a5a
}
