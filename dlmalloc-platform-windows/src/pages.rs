//! System memory for the core: `custom_mmap` and `custom_munmap` over
//! `VirtualAlloc` reservations, [`release_all`] for a DLL that is being
//! unloaded, and statistics of what is mapped.
//!
//! Every mapping is one reservation, committed whole. Giving memory back
//! decommits the pieces the core names (`MEM_DECOMMIT`), and a reservation
//! is released (`MEM_RELEASE`) by the call that gives back its last
//! committed byte. The reservation table (reservations.rs) knows which
//! reservation holds an address and how much of it is still committed; it
//! and the counters below sit behind one SRW lock, because the core calls
//! these hooks from several heaps at once (dl_hooks.h).

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::mem;
use core::ptr;

use windows_sys::Win32::System::Memory::{
    MEM_COMMIT, MEM_DECOMMIT, MEM_RELEASE, MEM_RESERVE, MEMORY_BASIC_INFORMATION, PAGE_READWRITE,
    VirtualAlloc, VirtualFree, VirtualQuery,
};

use crate::lock::SrwLock;
use crate::reservations::Table;
use crate::system::page_size;

/// The table and the counters, guarded by [`Guarded::lock`].
struct State {
    table: Table,
    /// Committed bytes handed to the core and not given back.
    committed: usize,
    /// Successful `custom_mmap` and `custom_munmap` calls.
    maps: usize,
    unmaps: usize,
}

/// [`State`] in a static, behind its lock.
struct Guarded {
    lock: SrwLock,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only reached through `with_state`, which holds `lock`.
unsafe impl Sync for Guarded {}

static GUARDED: Guarded = Guarded {
    lock: SrwLock::new(),
    state: UnsafeCell::new(State {
        table: Table::new(),
        committed: 0,
        maps: 0,
        unmaps: 0,
    }),
};

/// Runs `f` on the state with its lock held.
fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    GUARDED.lock.with(|| {
        // SAFETY: the lock is held, so this is the only reference to the
        // state until `f` returns.
        f(unsafe { &mut *GUARDED.state.get() })
    })
}

/// What [`custom_mmap`] returns on failure: `(void*)-1`, never null.
fn mmap_failed() -> *mut c_void {
    ptr::without_provenance_mut(usize::MAX)
}

/// Rounds `len` up to a multiple of `page`; `None` on overflow.
fn round_to_pages(len: usize, page: usize) -> Option<usize> {
    Some(len.checked_add(page - 1)? & !(page - 1))
}

/// Maps `len` bytes of fresh, readable and writable memory: one
/// `VirtualAlloc(MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)` reservation.
///
/// Returns its base, a multiple of the allocation granularity (64 KiB), or
/// `usize::MAX as *mut c_void` (`(void*)-1`) on failure, never null. `len`
/// is rounded up to whole pages (the core passes whole pages already); 0
/// fails. The memory is zero-filled by the system, though the core does not
/// rely on that. Fails too, releasing the reservation again, if the
/// reservation table cannot grow to record it.
#[unsafe(no_mangle)]
pub extern "C" fn custom_mmap(len: usize) -> *mut c_void {
    crate::granularity::keep_initializer();
    let Some(len) = round_to_pages(len, page_size()) else {
        return mmap_failed();
    };
    if len == 0 {
        return mmap_failed();
    }
    // Reserve outside the table's lock: the system call is the slow part,
    // and other heaps may map or unmap meanwhile.
    // SAFETY: a fresh reservation at an address the system picks touches no
    // existing memory; failure is null.
    let mem = unsafe { VirtualAlloc(ptr::null(), len, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE) };
    if mem.is_null() {
        return mmap_failed();
    }
    let recorded = with_state(|state| {
        if !state.table.insert(mem.addr(), len) {
            return false;
        }
        state.committed += len;
        state.maps += 1;
        true
    });
    if !recorded {
        // SAFETY: the reservation was made above and never handed out.
        unsafe { VirtualFree(mem, 0, MEM_RELEASE) };
        return mmap_failed();
    }
    mem
}

/// Whether every byte of `[from, to)` is committed memory of the
/// reservation at `base` (asked of the system with `VirtualQuery`).
fn all_committed(from: usize, to: usize, base: usize) -> bool {
    let mut at = from;
    while at < to {
        // SAFETY: all zero bytes are a valid MEMORY_BASIC_INFORMATION
        // (integers and pointers).
        let mut info: MEMORY_BASIC_INFORMATION = unsafe { mem::zeroed() };
        // SAFETY: VirtualQuery only reads the address space's layout into
        // `info`, a live buffer of the size passed; any address is allowed.
        let got = unsafe {
            VirtualQuery(
                ptr::without_provenance(at),
                &mut info,
                mem::size_of::<MEMORY_BASIC_INFORMATION>(),
            )
        };
        if got == 0 || info.State != MEM_COMMIT || info.AllocationBase.addr() != base {
            return false;
        }
        let region_end = info.BaseAddress.addr().saturating_add(info.RegionSize);
        if region_end <= at {
            return false;
        }
        at = region_end;
    }
    true
}

/// Whether `[from, to)` lies wholly in recorded reservations, and every
/// byte of it is still committed: then [`custom_munmap`] can give it back.
fn can_give_back(table: &Table, from: usize, to: usize) -> bool {
    let mut at = from;
    while at < to {
        let Some(index) = table.find(at) else {
            return false;
        };
        let reservation = table.entries()[index];
        let piece_end = to.min(reservation.end());
        if !all_committed(at, piece_end, reservation.base) {
            return false;
        }
        at = piece_end;
    }
    true
}

/// Gives back `len` bytes at `start`; returns 0 on success and -1 on
/// failure.
///
/// The range may be any page-aligned run of committed pages from
/// [`custom_mmap`]: a whole mapping, its tail, its head or a piece in the
/// middle, or a run across several adjacent mappings (the core joins
/// mappings that touch into one segment and gives back tails and whole
/// segments; see dl_hooks.h). Pieces are decommitted, and a reservation
/// whose last committed bytes are given back is released, so its address
/// space is free again.
///
/// On failure nothing changes: the call first checks that every byte of
/// the range belongs to a recorded reservation and is still committed (so
/// an unknown range, one given back before, or one that is not page
/// aligned gets -1), and the core keeps the range. A system call that
/// fails after that check (which would mean that someone else freed this
/// platform's memory behind its back) fails the call if nothing was
/// changed yet, and ends the process with a message otherwise, since the
/// pieces already given back cannot be restored.
///
/// # Safety
///
/// The range must no longer be used: any later access to it is undefined
/// behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_munmap(start: *mut c_void, len: usize) -> i32 {
    let page = page_size();
    let from = start.addr();
    let Some(to) = from.checked_add(len) else {
        return -1;
    };
    if len == 0 || from % page != 0 || len % page != 0 {
        return -1;
    }
    with_state(|state| {
        if !can_give_back(&state.table, from, to) {
            return -1;
        }
        // The reservations the range covers are consecutive entries of the
        // table (it is sorted and they do not overlap); released ones stay
        // in it, with 0 committed bytes, until the end of the call.
        let Some(first) = state.table.find(from) else {
            return -1;
        };
        let mut index = first;
        let mut at = from;
        let mut released = false;
        while at < to {
            let reservation = state.table.get_mut(index);
            let piece_end = to.min(reservation.end());
            let piece = piece_end - at;
            let whole = piece == reservation.committed;
            let done = if whole {
                // The last committed bytes: release the whole reservation,
                // which also decommits them.
                // SAFETY: a reservation this platform made, with nothing
                // committed outside the range the caller gives up.
                unsafe {
                    VirtualFree(
                        ptr::without_provenance_mut(reservation.base),
                        0,
                        MEM_RELEASE,
                    )
                }
            } else {
                // SAFETY: the piece is committed memory of one of this
                // platform's reservations (checked above), which the caller
                // gives up.
                unsafe { VirtualFree(ptr::without_provenance_mut(at), piece, MEM_DECOMMIT) }
            };
            if done == 0 {
                if at == from {
                    return -1;
                }
                crate::abort::die(b"VirtualFree failed on memory this platform had committed");
            }
            reservation.committed -= piece;
            state.committed -= piece;
            released |= whole;
            at = piece_end;
            index += 1;
        }
        if released {
            state.table.forget_released(first);
        }
        state.unmaps += 1;
        0
    })
}

/// Releases every reservation the page hooks made and forgets them, with
/// the reservation table's own pages: every page the heaps of this module
/// (EXE or DLL) mapped is given back. Returns the bytes that were still
/// committed.
///
/// For a DLL that uses this allocator and is about to be unloaded: each
/// DLL that links this crate has its own copy of the core and of this
/// table, and `FreeLibrary` does not give back memory a DLL mapped for
/// itself, so without this call every load and unload would leave the
/// DLL's heap behind. Call it from `DllMain` on `DLL_PROCESS_DETACH` when
/// its `reserved` argument is null (the DLL is being unloaded), or from an
/// export the host calls just before `FreeLibrary`. Not when the process
/// is exiting (`reserved` non-null): the system takes all memory back
/// anyway, and the other threads have been ended wherever they were,
/// perhaps holding the lock this call takes.
///
/// # Safety
///
/// Afterwards every block ever allocated in this module (global heap,
/// every mspace) is gone, and the core's own state points into released
/// memory: nothing in this module may allocate, free, reallocate or read a
/// heap block afterwards, on any thread, and no other thread may be inside
/// the allocator during the call; anything else is undefined behavior (an
/// access violation at best). In particular, Rust code that runs later in
/// the same module (destructors of statics or thread-locals, the standard
/// library's buffered stdout) must not touch the heap.
pub unsafe fn release_all() -> usize {
    with_state(|state| {
        for reservation in state.table.entries() {
            // SAFETY: a reservation this platform made; the caller
            // guarantees nobody uses any of it any more.
            unsafe {
                VirtualFree(
                    ptr::without_provenance_mut(reservation.base),
                    0,
                    MEM_RELEASE,
                )
            };
        }
        state.table.clear();
        mem::replace(&mut state.committed, 0)
    })
}

/// A snapshot of the page hooks' bookkeeping (see [`memory_stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Bytes the core holds: committed by [`custom_mmap`] and not yet given
    /// back with [`custom_munmap`].
    pub committed_bytes: usize,
    /// Bytes of address space the live reservations span, decommitted
    /// holes included.
    pub reserved_bytes: usize,
    /// Live reservations: made by [`custom_mmap`] and not yet released.
    pub reservations: usize,
    /// Successful [`custom_mmap`] calls so far.
    pub maps: usize,
    /// Successful [`custom_munmap`] calls so far.
    pub unmaps: usize,
}

/// The page hooks' bookkeeping now: what is committed and reserved, and
/// how many calls succeeded. For tests and diagnostics; exact once the
/// threads that allocate are quiescent.
pub fn memory_stats() -> MemoryStats {
    with_state(|state| MemoryStats {
        committed_bytes: state.committed,
        reserved_bytes: state.table.entries().iter().map(|r| r.size).sum(),
        reservations: state.table.entries().len(),
        maps: state.maps,
        unmaps: state.unmaps,
    })
}

/// Bytes currently mapped for the core: everything [`custom_mmap`] handed
/// out minus everything [`custom_munmap`] took back (the committed bytes of
/// [`memory_stats`]).
///
/// For tests and diagnostics: for example, destroying an mspace returns the
/// count to its level before the mspace was created, and trimming lowers it.
pub fn mapped_bytes() -> usize {
    with_state(|state| state.committed)
}

/// Successful [`custom_mmap`] calls so far (the `maps` of
/// [`memory_stats`]), under the name the hosted platform uses, so that
/// tests written for it run here unchanged.
pub fn map_count() -> usize {
    memory_stats().maps
}

/// Successful [`custom_munmap`] calls so far (the `unmaps` of
/// [`memory_stats`]). See [`map_count`].
pub fn unmap_count() -> usize {
    memory_stats().unmaps
}
