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

/// Requests up to 1 KiB have exact classes: one per chunk size,
/// `MALLOC_ALIGNMENT` apart, so a cached block never wastes a byte more
/// than the core would. Exact classes are indexed by chunk size in
/// alignment units, computed without the core's minimum: the few indices
/// below the minimum chunk are classes of minimum chunks too (a request
/// finds its class with one addition and one shift). Index 0 stays unused.
const EXACT_CLASSES: usize = exact_class(1 << FIRST_DOUBLING) + 1;
/// The largest request of the largest exact class (1 KiB and the few bytes
/// its chunk holds beyond).
const EXACT_MAX_REQUEST: usize = (EXACT_CLASSES - 1) * MALLOC_ALIGNMENT - CHUNK_OVERHEAD;
/// Above [`EXACT_MAX_REQUEST`], classes split each doubling of the request
/// in this many equal steps, so rounding a request up to its class wastes
/// less than `1 / STEPS_PER_DOUBLING` of it (at most 12.5%, 4.2% on
/// average over uniformly spread sizes; the `size_class_waste` test
/// measures it). Four steps would halve the classes but waste 8.3% on
/// average, which the benchmark's RSS rows showed (92% of peak RSS live,
/// against 94% with eight).
const STEP_BITS: u32 = 3;
/// Steps per doubling: `2^STEP_BITS`.
const STEPS_PER_DOUBLING: usize = 1 << STEP_BITS;
/// `log2` of 1 KiB: the first stepped doubling starts there.
const FIRST_DOUBLING: u32 = 10;
/// The largest request served from the cache: 32 KiB, a class of its own
/// (an exact power of two, as buffers often are, wastes nothing).
pub(crate) const MAX_CACHED_REQUEST: usize = 32 << 10;
/// Stepped classes: from `EXACT_MAX_REQUEST` up to `MAX_CACHED_REQUEST`.
const STEPPED_CLASSES: usize =
    (MAX_CACHED_REQUEST.trailing_zeros() - FIRST_DOUBLING) as usize * STEPS_PER_DOUBLING;
/// Size classes in all.
pub(crate) const CLASSES: usize = EXACT_CLASSES + STEPPED_CLASSES;
/// Most blocks kept per class (small classes; larger ones keep fewer, see
/// [`CLASS_BYTES_BOUND`]). A full class gives its older half back to the
/// heap in one locked call.
pub(crate) const MAX_PER_CLASS: usize = 32;
/// Most bytes one class keeps, which bounds the count of large blocks; but
/// every class keeps at least [`MIN_PER_CLASS`] (a 32 KiB class keeps 4).
const CLASS_BYTES_BOUND: usize = 128 << 10;
/// Fewest blocks a class keeps, so that a thread that frees and allocates
/// a few large blocks in turn stays in its cache.
const MIN_PER_CLASS: usize = 4;
/// Most bytes (chunk sizes) one thread keeps cached; past it, frees go
/// straight to the heap.
const MAX_CACHED_BYTES: usize = 512 << 10;
/// After a streak of frees this long with no allocation, the thread is
/// releasing memory, not recycling it: its cache is given back and its
/// frees go straight to the heap until it allocates again. Otherwise the
/// last cached blocks, scattered over the heap, would keep whole segments
/// from being returned to the system after a program frees everything.
/// The streak counts the frees that the cache cannot take without giving
/// blocks back (each block of a full class's evicted half, and each free
/// the byte bound refuses), so the common free pays nothing for it; a
/// thread that only frees reaches such frees once its classes are full.
/// Each adds one, plus one per [`STREAK_BYTES`] of its class: 4096 frees of
/// the smallest blocks, about 1400 of 1 KiB, 63 of 32 KiB (where a count
/// alone would let a few hundred large frees pin tens of MiB).
const STREAK_BEFORE_DRAINING: usize = 4096;
/// Bytes of a freed block that weigh as much as one more free in the streak.
const STREAK_BYTES: usize = 512;

/// The largest request of each class: every block cached in the class has
/// at least this many usable bytes. Zero for unused exact indices.
const CLASS_REQUEST: [usize; CLASSES] = {
    let mut table = [0; CLASSES];
    let mut class = 0;
    while class < EXACT_CLASSES {
        if class * MALLOC_ALIGNMENT >= dlmalloc_sys::MIN_CHUNK_SIZE {
            table[class] = class * MALLOC_ALIGNMENT - CHUNK_OVERHEAD;
        } else if class > 0 {
            // Below the minimum chunk: a minimum chunk serves the class.
            table[class] = dlmalloc_sys::MIN_CHUNK_SIZE - CHUNK_OVERHEAD;
        }
        class += 1;
    }
    let mut step = 0;
    while step < STEPPED_CLASSES {
        let doubling = FIRST_DOUBLING + (step / STEPS_PER_DOUBLING) as u32;
        let base = 1usize << doubling;
        table[EXACT_CLASSES + step] =
            base + (step % STEPS_PER_DOUBLING + 1) * (base / STEPS_PER_DOUBLING);
        step += 1;
    }
    table
};

/// Most blocks each class keeps.
const CLASS_LIMIT: [usize; CLASSES] = {
    let mut table = [0; CLASSES];
    let mut class = 0;
    while class < CLASSES {
        let by_bytes = CLASS_BYTES_BOUND / chunk_size_for(CLASS_REQUEST[class]);
        table[class] = if by_bytes > MAX_PER_CLASS {
            MAX_PER_CLASS
        } else if by_bytes < MIN_PER_CLASS {
            MIN_PER_CLASS
        } else {
            by_bytes
        };
        class += 1;
    }
    table
};

/// The class that serves an allocation of `size` bytes
/// (`1..=MAX_CACHED_REQUEST`): the smallest whose blocks hold `size` bytes.
#[inline]
pub(crate) fn class_for_request(size: usize) -> usize {
    if size <= EXACT_MAX_REQUEST {
        return exact_class(size);
    }
    // The doubling (2^doubling, 2^(doubling+1)] holding `size`, and the step
    // within it that rounds `size` up.
    let below = size - 1;
    let doubling = usize::BITS - 1 - below.leading_zeros();
    let step = (below >> (doubling - STEP_BITS)) & (STEPS_PER_DOUBLING - 1);
    EXACT_CLASSES + (doubling - FIRST_DOUBLING) as usize * STEPS_PER_DOUBLING + step
}

/// The exact class of a request of `size` bytes (`1..=EXACT_MAX_REQUEST`):
/// the chunk size it needs in alignment units, before the minimum.
#[inline]
const fn exact_class(size: usize) -> usize {
    (size + CHUNK_OVERHEAD).div_ceil(MALLOC_ALIGNMENT)
}

/// The class a freed block joins: for a request of `size` bytes up to
/// [`EXACT_MAX_REQUEST`], the request's own class (every such block has at
/// least its class's chunk); above, the largest class whose request fits in
/// the block's real usable size, read from its chunk header, since the block
/// may have come from the heap directly at its exact size. `None` for a
/// block the cache must not keep (one with a mapping of its own).
///
/// # Safety
///
/// `block` is a live block of the global heap allocated (or last
/// reallocated) with a request of `size` bytes.
#[inline]
pub(crate) unsafe fn class_for_free(block: *mut u8, size: usize) -> Option<usize> {
    if size <= EXACT_MAX_REQUEST {
        return Some(class_for_request(size));
    }
    // SAFETY: a live block of the core's global heap (contract).
    let usable = unsafe { dlmalloc_sys::usable_size_unmapped(block.cast()) }?;
    Some(class_held_by(usable))
}

/// Most usable bytes of a queued block the cache adopts
/// ([`Bins::adopt_queued`]): the largest class's request plus one step, so
/// an adopted block wastes no more than rounding to a class does.
const MAX_ADOPTED: usize = MAX_CACHED_REQUEST + MAX_CACHED_REQUEST / STEPS_PER_DOUBLING;

/// The largest class whose request fits in a block of `usable` bytes (its
/// chunk's, read from the header), or `None` when the block is larger than
/// the cache keeps.
#[inline]
fn class_of_usable(usable: usize) -> Option<usize> {
    if usable <= EXACT_MAX_REQUEST {
        // Chunk sizes are multiples of the alignment, so `usable` is the
        // largest request of its exact class.
        Some(class_for_request(usable))
    } else if usable < MAX_ADOPTED {
        Some(class_held_by(usable))
    } else {
        None
    }
}

/// The largest class whose request fits in `usable` bytes, for a block that
/// holds more than [`EXACT_MAX_REQUEST`] bytes.
#[inline]
fn class_held_by(usable: usize) -> usize {
    if usable >= MAX_CACHED_REQUEST {
        return CLASSES - 1;
    }
    let doubling = usize::BITS - 1 - usable.leading_zeros();
    let step = (usable >> (doubling - STEP_BITS)) & (STEPS_PER_DOUBLING - 1);
    // The step below the one `usable` reaches; step 0 of a doubling is the
    // last step of the one before, and below the first stepped class the
    // largest exact class (whose request `usable` exceeds, since chunk
    // sizes are multiples of the alignment).
    let stepped = (doubling - FIRST_DOUBLING) as usize * STEPS_PER_DOUBLING + step;
    EXACT_CLASSES + stepped - 1
}

/// The largest request of `class`: a block for it has the class's chunk
/// size when carved from free memory.
#[inline]
pub(crate) fn class_request(class: usize) -> usize {
    CLASS_REQUEST[class]
}

/// Bytes a block of `class` counts against the thread's bound.
const fn class_bytes(class: usize) -> usize {
    chunk_size_for(CLASS_REQUEST[class])
}

/// Whether `class` is one of the exact classes (requests up to 1 KiB).
#[inline]
pub(crate) fn is_exact(class: usize) -> bool {
    class < EXACT_CLASSES
}

/// Most blocks `class` keeps.
const fn class_limit(class: usize) -> usize {
    CLASS_LIMIT[class]
}

/// Why a block cannot be cached or trusted; the caller aborts with it,
/// except for [`Tagged`](Corruption::Tagged), which it settles first.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Corruption {
    /// A block being freed carries the given-up tag ([`tag_of`]): it is in
    /// a cache or queued for its arena already (a double free), or the
    /// program stored that very value in its second word. Nothing was
    /// changed; `thread_cache::settle_tagged` tells the two apart.
    Tagged,
    /// A block was freed while it was cached or queued already.
    DoubleFree,
    /// A link read from a cached block is not a block address: the block
    /// was written to after it was freed, or the list was forged.
    BrokenLink,
}

/// One class: the head of its list, and its bounds next to it, so the fast
/// paths read everything about a class from one place.
#[derive(Clone, Copy)]
struct Class {
    head: *mut u8,
    count: usize,
    /// Most blocks kept: [`class_limit`].
    limit: usize,
    /// What a block counts against the thread's bound: [`class_bytes`].
    bytes: usize,
    /// What a free of the class adds to the streak of frees.
    streak_weight: usize,
}

impl Class {
    /// Detaches the older half of a full class; returns its first block
    /// (the detached blocks stay linked, the last link is null) and how many
    /// blocks it holds.
    ///
    /// # Safety
    ///
    /// The list holds only cached blocks.
    #[cold]
    unsafe fn split_off_older_half(&mut self, secret: usize) -> (*mut u8, usize) {
        let keep = self.limit / 2;
        let mut last_kept = self.head;
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
        let blocks = self.count - keep;
        self.count = keep;
        (evicted, blocks)
    }
}

/// Every class, empty.
const EMPTY_CLASSES: [Class; CLASSES] = {
    let mut table = [Class {
        head: ptr::null_mut(),
        count: 0,
        limit: 0,
        bytes: 0,
        streak_weight: 0,
    }; CLASSES];
    let mut class = 0;
    while class < CLASSES {
        table[class].limit = class_limit(class);
        table[class].bytes = class_bytes(class);
        table[class].streak_weight = 1 + class_bytes(class) / STREAK_BYTES;
        class += 1;
    }
    table
};

/// A thread's cached blocks, by class. Only the owning thread touches it,
/// except a flusher that has stopped the owner (see the registry).
pub(crate) struct Bins {
    classes: [Class; CLASSES],
    /// The per-process secret that masks links (`thread_cache::secret`),
    /// copied here when the cache is set up so the fast paths need not
    /// load and check the shared one.
    secret: usize,
    cached_bytes: usize,
    /// The streak of frees since this thread last allocated through the
    /// cache (see [`STREAK_BEFORE_DRAINING`]).
    free_streak: usize,
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
    /// Sets the secret that masks this cache's links; before the first use.
    pub(crate) fn set_secret(&mut self, secret: usize) {
        self.secret = secret;
    }

    /// Empty bins.
    pub(crate) const fn new() -> Bins {
        Bins {
            classes: EMPTY_CLASSES,
            secret: 0,
            cached_bytes: 0,
            free_streak: 0,
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
    pub(crate) unsafe fn pop(&mut self, class: usize) -> Result<*mut u8, Corruption> {
        let secret = self.secret;
        self.free_streak = 0;
        let entry = entry_of(&mut self.classes, class);
        let block = entry.head;
        if block.is_null() {
            return Ok(block);
        }
        // SAFETY: `block` is a cached block (contract), two words long and
        // aligned, owned by this cache.
        let (link, tag) = unsafe { (block.cast::<usize>().read(), block.cast::<usize>().add(1)) };
        let next = unmask(link, block, secret);
        // A changed link decodes to a misaligned address 15 times in 16 (it
        // is masked with the secret); that is checked here, on every reuse.
        if next.addr() % MALLOC_ALIGNMENT != 0 {
            return Err(Corruption::BrokenLink);
        }
        // SAFETY: as above; clearing the tag keeps a block that is in use
        // again from looking cached.
        unsafe { tag.write(0) };
        entry.head = next;
        entry.count -= 1;
        self.cached_bytes -= entry.bytes;
        Ok(block)
    }

    /// Caches `block` in `class` when that needs nothing else: the class
    /// has room, the thread's byte bound admits it and no streak of frees
    /// is under way. `Ok(false)` leaves the block to [`push`](Bins::push).
    ///
    /// # Safety
    ///
    /// As for [`push`](Bins::push).
    #[inline]
    pub(crate) unsafe fn try_push(
        &mut self,
        block: *mut u8,
        class: usize,
    ) -> Result<bool, Corruption> {
        let secret = self.secret;
        let streak = self.free_streak;
        let cached_bytes = self.cached_bytes;
        let entry = entry_of(&mut self.classes, class);
        if streak >= STREAK_BEFORE_DRAINING
            || cached_bytes + entry.bytes > MAX_CACHED_BYTES
            || entry.count == entry.limit
        {
            return Ok(false);
        }
        // SAFETY: as for `push` (contract).
        unsafe { cache_block(entry, block, secret)? };
        self.cached_bytes = cached_bytes + entry.bytes;
        Ok(true)
    }

    /// Caches `block` in `class`; see [`Pushed`] for the outcomes.
    ///
    /// # Safety
    ///
    /// `block` is a live in-use block of the global heap that holds at least
    /// the class's request (as [`class_for_free`] makes sure) and that the
    /// caller gives up, whose second word holds a defined value (the program's, or
    /// the one `thread_cache::prepare` wrote: it is read to recognise a
    /// double free), and every block already in the bins is as
    /// [`pop`](Bins::pop) requires.
    pub(crate) unsafe fn push(
        &mut self,
        block: *mut u8,
        class: usize,
    ) -> Result<Pushed, Corruption> {
        // SAFETY: the caller's contract is try_push's.
        if unsafe { self.try_push(block, class)? } {
            return Ok(Pushed::Cached);
        }
        let secret = self.secret;
        if self.free_streak >= STREAK_BEFORE_DRAINING
            || self.cached_bytes + entry_of(&mut self.classes, class).bytes > MAX_CACHED_BYTES
        {
            return Ok(self.refuse(class));
        }
        // The class is full: its older half leaves the cache, once the
        // block is known to be cacheable (a `Tagged` error leaves the bins
        // as they were).
        // SAFETY: `block` is live, two words long, with a defined second
        // word (contract).
        if unsafe { given_up(block, secret) } {
            return Err(Corruption::Tagged);
        }
        let entry = entry_of(&mut self.classes, class);
        // SAFETY: the bins hold only cached blocks (contract).
        let (first, blocks) = unsafe { entry.split_off_older_half(secret) };
        // SAFETY: as for try_push (contract); the class has room now.
        unsafe { cache_block(entry, block, secret)? };
        let weight = entry.streak_weight;
        self.cached_bytes = self.cached_bytes + entry.bytes - blocks * entry.bytes;
        // Wrapping: past 2^BITS units a streak starts over, harmlessly.
        self.free_streak = self.free_streak.wrapping_add(blocks * weight);
        Ok(Pushed::CachedEvicting(first))
    }

    /// A free of `class` that the cache does not take: the byte bound is
    /// reached, or the streak of frees is past [`STREAK_BEFORE_DRAINING`],
    /// in which case the cache is given back too if it holds anything.
    #[cold]
    fn refuse(&mut self, class: usize) -> Pushed {
        let weight = entry_of(&mut self.classes, class).streak_weight;
        self.free_streak = self.free_streak.wrapping_add(weight);
        if self.free_streak >= STREAK_BEFORE_DRAINING && self.cached_bytes != 0 {
            Pushed::RefusedDrainAll
        } else {
            Pushed::Refused
        }
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
    pub(crate) unsafe fn adopt_fresh(&mut self, blocks: &[*mut u8], class: usize) -> usize {
        let secret = self.secret;
        let Class { limit, bytes, .. } = self.classes[class];
        let mut taken = 0;
        for &block in blocks {
            let entry = &mut self.classes[class];
            if entry.count == limit || self.cached_bytes + bytes > MAX_CACHED_BYTES {
                break;
            }
            // SAFETY: a fresh block of at least two words (contract).
            unsafe {
                block.cast::<usize>().write(mask(entry.head, block, secret));
                mark_given_up(block, secret);
            }
            entry.head = block;
            entry.count += 1;
            self.cached_bytes += bytes;
            taken += 1;
        }
        taken
    }

    /// Keeps the blocks of a list that other threads queued for this
    /// thread's arena (from `RemoteFrees::take`), each in the largest class
    /// its chunk holds, as far as the class's and the thread's bounds
    /// admit. Returns the blocks it did not keep, still linked and tagged,
    /// for the caller to free to the arena. The queued tag is the cached
    /// one, so a kept block is cached as it stands. Errors at a link that
    /// `holds` does not accept (the rest stays in use).
    ///
    /// # Safety
    ///
    /// `first` starts a taken list, which the caller owns, of blocks pushed
    /// under `RemoteFrees::push`'s contract (live blocks of the arena).
    pub(crate) unsafe fn adopt_queued(
        &mut self,
        first: *mut u8,
        holds: impl Fn(*mut u8) -> bool,
    ) -> Result<*mut u8, Corruption> {
        let secret = self.secret;
        let mut rest = ptr::null_mut();
        let mut at = first;
        while !at.is_null() {
            if !holds(at) {
                return Err(Corruption::BrokenLink);
            }
            // SAFETY: `at` is a queued block of the arena (checked above),
            // live for the core, with its header before it (contract).
            let (next, usable) = unsafe {
                (
                    unmask(at.cast::<usize>().read(), at, secret),
                    dlmalloc_sys::usable_size_unmapped(at.cast()),
                )
            };
            let fits = usable.and_then(class_of_usable).filter(|&class| {
                let entry = &self.classes[class];
                entry.count < entry.limit && self.cached_bytes + entry.bytes <= MAX_CACHED_BYTES
            });
            if let Some(class) = fits {
                let entry = &mut self.classes[class];
                // SAFETY: the block is the caller's (contract); it keeps its
                // tag.
                unsafe { link_to(at, entry.head, secret) };
                entry.head = at;
                entry.count += 1;
                self.cached_bytes += entry.bytes;
            } else {
                // SAFETY: as above.
                unsafe { link_to(at, rest, secret) };
                rest = at;
            }
            at = next;
        }
        Ok(rest)
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

    /// Whether `block` is in one of the classes' lists. Stops a list at a
    /// link that is not a block address (its owner reports it on its next
    /// use).
    ///
    /// # Safety
    ///
    /// The bins hold only cached blocks, and nobody changes them during the
    /// search (their owner is stopped, or is the caller).
    pub(crate) unsafe fn holds(&self, block: *mut u8) -> bool {
        self.classes.iter().any(|entry| {
            let mut at = entry.head;
            for _ in 0..entry.count {
                if at == block {
                    return true;
                }
                if at.is_null() || at.addr() % MALLOC_ALIGNMENT != 0 {
                    return false;
                }
                // SAFETY: `at` is a cached block (contract).
                at = unmask(unsafe { at.cast::<usize>().read() }, at, self.secret);
            }
            false
        })
    }

    /// Whether `class` holds as many blocks as it may (the next push
    /// evicts its older half).
    #[cfg(all(test, not(miri)))]
    pub(super) fn is_full(&self, class: usize) -> bool {
        self.classes[class].count == self.classes[class].limit
    }

    /// Detaches every class's list (each for [`Bins::drain_list`]) and
    /// leaves the bins empty.
    pub(crate) fn take_all(&mut self) -> [*mut u8; CLASSES] {
        let mut lists = [ptr::null_mut(); CLASSES];
        for (list, entry) in lists.iter_mut().zip(self.classes.iter_mut()) {
            *list = entry.head;
            entry.head = ptr::null_mut();
            entry.count = 0;
        }
        self.cached_bytes = 0;
        lists
    }
}

/// Puts `block` at the head of `entry`'s list with the cached tag, after
/// checking that it does not carry that tag already
/// ([`Corruption::Tagged`], and nothing changes).
///
/// # Safety
///
/// `block` is a live in-use block of the class that the caller gives up,
/// with a defined second word, and the class has room.
#[inline]
unsafe fn cache_block(entry: &mut Class, block: *mut u8, secret: usize) -> Result<(), Corruption> {
    // A tagged block is in a cache or queued for its arena's owner (given
    // up already), unless the program wrote the tag there.
    // SAFETY: `block` is live and at least two words long (contract).
    if unsafe { given_up(block, secret) } {
        return Err(Corruption::Tagged);
    }
    // SAFETY: as above; its first two words now hold the masked link and
    // the cached tag.
    unsafe {
        link_to(block, entry.head, secret);
        mark_given_up(block, secret);
    }
    entry.head = block;
    entry.count += 1;
    Ok(())
}

/// The entry of `class` in `classes`, without a bounds check on the fast
/// paths.
#[inline]
fn entry_of(classes: &mut [Class; CLASSES], class: usize) -> &mut Class {
    debug_assert!(class < CLASSES, "class {class} out of range");
    // SAFETY: every class the callers pass comes from `class_for_request`,
    // `class_for_free` or `class_of_usable`, which return indices below
    // CLASSES (`every_request_fits_its_class` and
    // `freed_blocks_join_a_class_they_hold` test it).
    unsafe { classes.get_unchecked_mut(class) }
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

/// The second word of `block` while it is cached (or queued for its
/// arena's owner, `remote`): derived from the per-process secret and the
/// block's own address. The address matters: a program may copy
/// uninitialised bytes into a block it uses (an enum's unused payload, a
/// struct's padding), and such bytes may hold a value this allocator left
/// in a register spill on the stack. With one tag for all blocks, the tag
/// of any block, leaked so, made a later free of a live block look like a
/// double free (a real program hit it). With the address mixed in, only
/// this very block's tag matches. Even so a match is only a suspicion
/// ([`Corruption::Tagged`]): a fuzzer that watches the program's
/// comparisons learned a block's tag and wrote it into that block.
#[inline]
pub(super) fn tag_of(block: *mut u8, secret: usize) -> usize {
    secret.rotate_left(17) ^ block.addr()
}

/// Whether `block` carries the given-up tag, [`tag_of`]: it is cached or
/// queued already.
///
/// # Safety
///
/// `block` is at least two words long and its second word is defined.
#[inline]
pub(super) unsafe fn given_up(block: *mut u8, secret: usize) -> bool {
    // SAFETY: the caller's contract.
    unsafe { block.cast::<usize>().add(1).read() == tag_of(block, secret) }
}

/// Writes the given-up tag, [`tag_of`], into `block`'s second word.
///
/// # Safety
///
/// `block` is a given-up block of at least two words.
#[inline]
pub(super) unsafe fn mark_given_up(block: *mut u8, secret: usize) {
    // SAFETY: the caller's contract.
    unsafe { block.cast::<usize>().add(1).write(tag_of(block, secret)) };
}

/// Stores in `block`'s first word a masked link to `next`.
///
/// # Safety
///
/// `block` is a given-up block of at least two words.
#[inline]
pub(super) unsafe fn link_to(block: *mut u8, next: *mut u8, secret: usize) {
    // SAFETY: the caller's contract.
    unsafe { block.cast::<usize>().write(mask(next, block, secret)) };
}

/// Reads the link [`link_to`] stored and clears the block's tag.
///
/// # Safety
///
/// `block` was linked by [`link_to`] and is owned by the caller.
#[inline]
pub(super) unsafe fn unlink_from(block: *mut u8, secret: usize) -> *mut u8 {
    // SAFETY: the caller's contract.
    unsafe {
        let next = unmask(block.cast::<usize>().read(), block, secret);
        block.cast::<usize>().add(1).write(0);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_fits_its_class() {
        for request in 1..=MAX_CACHED_REQUEST {
            let class = class_for_request(request);
            assert!(class < CLASSES, "request {request}: class {class}");
            assert!(
                class_request(class) >= request,
                "request {request} does not fit class {class} ({} bytes)",
                class_request(class)
            );
            if request <= EXACT_MAX_REQUEST {
                assert_eq!(
                    class_bytes(class),
                    chunk_size_for(request),
                    "request {request}"
                );
            } else {
                // Stepped classes round up by less than one step of a doubling.
                assert!(
                    class_request(class) * STEPS_PER_DOUBLING < request * (STEPS_PER_DOUBLING + 1),
                    "request {request} wastes a whole step or more in class {class}"
                );
                assert!(
                    class_request(class - 1) < request,
                    "request {request} rounded past a class that fits"
                );
            }
        }
        assert_eq!(class_request(CLASSES - 1), MAX_CACHED_REQUEST);
    }

    #[test]
    fn size_class_waste() {
        // Bytes of rounding over every request above the exact classes, as
        // a share of the bytes requested: what uniformly spread sizes waste.
        let (mut requested, mut wasted) = (0u64, 0u64);
        for request in EXACT_MAX_REQUEST + 1..=MAX_CACHED_REQUEST {
            let class = class_for_request(request);
            requested += request as u64;
            wasted += (class_request(class) - request) as u64;
        }
        let share = wasted as f64 / requested as f64;
        assert!(
            share < 0.05,
            "stepped classes waste {:.1}% on average",
            share * 100.0
        );
    }

    #[test]
    fn freed_blocks_join_a_class_they_hold() {
        // Usable sizes of unmapped chunks above the exact classes: chunk
        // sizes are multiples of the alignment, minus the header.
        let first = chunk_size_for(EXACT_MAX_REQUEST + 1);
        for chunk in (first..=2 * MAX_CACHED_REQUEST).step_by(MALLOC_ALIGNMENT) {
            let usable = chunk - CHUNK_OVERHEAD;
            let class = class_held_by(usable);
            assert!(
                class_request(class) <= usable,
                "usable {usable}: class {class}"
            );
            if class + 1 < CLASSES {
                assert!(
                    class_request(class + 1) > usable,
                    "usable {usable} also holds class {}",
                    class + 1
                );
            }
        }
    }

    #[test]
    fn a_tag_copied_into_another_block_does_not_mark_it_given_up() {
        // Two blocks' first words, as a program might leave them: block
        // `b` receives a copy of `a`'s second word (say, uninitialised bytes
        // moved from a stack slot that once held `a`'s tag).
        let mut a = [0usize; 2];
        let mut b = [0usize; 2];
        let secret = 0x1234_5678_9abc_def1_u64 as usize;
        let (a_block, b_block) = (a.as_mut_ptr().cast::<u8>(), b.as_mut_ptr().cast::<u8>());
        // SAFETY: both arrays are two words long and initialised.
        unsafe {
            mark_given_up(a_block, secret);
            assert!(given_up(a_block, secret));
            b_block
                .cast::<usize>()
                .add(1)
                .write(a_block.cast::<usize>().add(1).read());
            assert!(
                !given_up(b_block, secret),
                "another block's tag makes a live block look freed"
            );
        }
    }

    #[test]
    fn class_limits_bound_bytes() {
        for class in 0..CLASSES {
            if class_request(class) == 0 {
                continue;
            }
            let limit = class_limit(class);
            assert!(
                (MIN_PER_CLASS..=MAX_PER_CLASS).contains(&limit),
                "class {class}: limit {limit}"
            );
            assert!(
                limit == MIN_PER_CLASS
                    || limit == MAX_PER_CLASS
                    || limit * class_bytes(class) <= CLASS_BYTES_BOUND,
                "class {class} keeps {limit} blocks of {} bytes",
                class_bytes(class)
            );
        }
    }
}
