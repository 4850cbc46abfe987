//! Blocks freed by threads that do not own the block's arena: a lock-free
//! list per arena that any thread pushes onto with one compare-and-swap
//! (a whole batch at once) and that the arena's owner takes in one swap on
//! its next cache miss: the blocks join its cache, and those the cache
//! cannot keep are freed under the arena's lock. Frees from other threads
//! so never wait for the owner's lock, nor make it wait.
//!
//! A queued block carries the same tag as a cached one (its second word),
//! and its link is masked like the cache's, so a second free of a queued
//! block, or a forged link, is caught.

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use super::bins::{Corruption, given_up, link_to, mark_given_up, unlink_from};

/// The list: its newest block, or null.
pub(super) struct RemoteFrees {
    head: AtomicPtr<u8>,
}

impl RemoteFrees {
    pub(super) const fn new() -> RemoteFrees {
        RemoteFrees {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Whether blocks wait on the list (a hint: it may change at once).
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.head.load(Ordering::Relaxed).is_null()
    }

    /// Queues `blocks` (non-null) with one successful compare-and-swap.
    ///
    /// # Safety
    ///
    /// Every block is an in-use block of this list's arena that the caller
    /// gives up, at least two words long, with a defined second word.
    pub(super) unsafe fn push(&self, blocks: &[*mut u8], secret: usize) -> Result<(), Corruption> {
        let (Some(&first), Some(&last)) = (blocks.first(), blocks.last()) else {
            return Ok(());
        };
        for pair in blocks.windows(2) {
            // SAFETY: the caller gives the blocks up (contract).
            unsafe { queue_one(pair[0], pair[1], secret)? };
        }
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: as above; `last` is not yet visible to other threads.
            unsafe { queue_one(last, head, secret)? };
            match self
                .head
                .compare_exchange_weak(head, first, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => {
                    head = now;
                    // The tag written above would read as a double free on
                    // the retry.
                    // SAFETY: as above.
                    unsafe { last.cast::<usize>().add(1).write(0) };
                }
            }
        }
    }

    /// Takes every queued block: the first of the list (null if none),
    /// whose blocks stay linked and tagged, for [`walk`] or the cache
    /// (`Bins::adopt_queued`).
    #[inline]
    pub(super) fn take(&self) -> *mut u8 {
        self.head.swap(ptr::null_mut(), Ordering::Acquire)
    }
}

/// Calls `free` with each block of a list [`RemoteFrees::take`] returned
/// (tag cleared). Stops with an error at a link that does not lead to a
/// block of the arena (`holds` says which addresses do); the rest stay in
/// use.
///
/// # Safety
///
/// `first` starts a taken list, which the caller owns; only blocks of the
/// arena were pushed ([`RemoteFrees::push`]'s contract).
pub(super) unsafe fn walk(
    first: *mut u8,
    secret: usize,
    holds: impl Fn(*mut u8) -> bool,
    mut free: impl FnMut(*mut u8),
) -> Result<(), Corruption> {
    let mut at = first;
    while !at.is_null() {
        if !holds(at) {
            return Err(Corruption::BrokenLink);
        }
        // SAFETY: `at` is a queued block of the arena (checked above) on a
        // list the caller owns.
        let next = unsafe { unlink_from(at, secret) };
        free(at);
        at = next;
    }
    Ok(())
}

/// Links `block` to `next` and tags it; a block already tagged is a double
/// free.
///
/// # Safety
///
/// `block` is a given-up block of at least two words with a defined second
/// word.
unsafe fn queue_one(block: *mut u8, next: *mut u8, secret: usize) -> Result<(), Corruption> {
    // SAFETY: the caller's contract.
    unsafe {
        if given_up(block, secret) {
            return Err(Corruption::DoubleFree);
        }
        link_to(block, next, secret);
        mark_given_up(block, secret);
    }
    Ok(())
}
