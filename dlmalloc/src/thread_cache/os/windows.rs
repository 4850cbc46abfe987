//! The thread cache's system calls on Windows: `BCryptGenRandom`,
//! `GetActiveProcessorCount`, `VirtualAlloc`/`VirtualFree` for the arenas,
//! and `FlushProcessWriteBuffers`. Windows has no `fork`, so no handlers.

use core::ffi::c_void;
use core::ptr;

use windows_sys::Win32::Security::Cryptography::{
    BCRYPT_USE_SYSTEM_PREFERRED_RNG, BCryptGenRandom,
};
use windows_sys::Win32::System::Memory::{
    MEM_COMMIT, MEM_DECOMMIT, MEM_RESERVE, PAGE_NOACCESS, PAGE_READWRITE, VirtualAlloc, VirtualFree,
};
use windows_sys::Win32::System::Threading::{
    ALL_PROCESSOR_GROUPS, FlushProcessWriteBuffers, GetActiveProcessorCount,
};

/// A random word from the system's preferred generator (`BCryptGenRandom`,
/// which Wine has too; `ProcessPrng` is newer and missing from Wine 8), or
/// `None` if it fails.
pub(in crate::thread_cache) fn random_word() -> Option<usize> {
    let mut random = 0usize;
    // SAFETY: writes exactly the given number of bytes into `random`; a
    // null algorithm handle is allowed with this flag.
    let status = unsafe {
        BCryptGenRandom(
            ptr::null_mut(),
            (&raw mut random).cast(),
            size_of::<usize>() as u32,
            BCRYPT_USE_SYSTEM_PREFERRED_RNG,
        )
    };
    (status >= 0).then_some(random)
}

/// Processors active in every processor group (at least 1).
pub(in crate::thread_cache) fn cpu_count() -> usize {
    // SAFETY: reads a system value.
    let cores = unsafe { GetActiveProcessorCount(ALL_PROCESSOR_GROUPS) };
    usize::try_from(cores).unwrap_or(1).max(1)
}

/// Reserves `length` bytes of address space for the arenas, without
/// committing any of it; `None` if the system refuses.
///
/// Not through the platform's `custom_mmap`, unlike on Linux: that hook
/// commits what it maps, and Windows charges committed memory against the
/// commit limit whether it is touched or not, so gigabytes of arena space
/// would count as used. The arenas are never released, so the platform
/// need not know about the range.
pub(in crate::thread_cache) fn reserve(length: usize) -> Option<usize> {
    // SAFETY: asks for fresh address space; touches no existing memory.
    let at = unsafe { VirtualAlloc(ptr::null(), length, MEM_RESERVE, PAGE_NOACCESS) };
    (!at.is_null()).then_some(at as usize)
}

/// Commits `[at, at + length)` of the reservation, read-write; `false` if
/// the commit limit is reached (the arena then does not grow). Pages that
/// were not committed read as zeros once committed, as fresh memory and
/// memory given back with [`decommit`] read on Linux.
pub(in crate::thread_cache) fn commit(at: usize, length: usize) -> bool {
    // SAFETY: the range lies in the reservation (caller), and committing
    // pages that are committed already leaves their contents as they are.
    let done = unsafe { VirtualAlloc(at as *const c_void, length, MEM_COMMIT, PAGE_READWRITE) };
    !done.is_null()
}

/// Decommits `[at, at + length)`, keeping it reserved. Unlike Linux's
/// `MADV_DONTNEED` the pages are then inaccessible until [`commit`] makes
/// them usable again (zeroed); the arenas' page source commits every range
/// it hands out, so no heap touches them before. `false` if nothing was
/// released.
///
/// # Safety
///
/// The range lies in the reservation, and nothing uses its contents any
/// more: calling this on memory that still holds live data is undefined
/// behavior.
pub(in crate::thread_cache) unsafe fn decommit(at: usize, length: usize) -> bool {
    // SAFETY: the caller's contract.
    unsafe { VirtualFree(at as *mut c_void, length, MEM_DECOMMIT) != 0 }
}

/// Nothing to register: `FlushProcessWriteBuffers` needs no set-up.
pub(in crate::thread_cache) fn register_barrier() -> bool {
    true
}

/// A full memory barrier on every running thread of this process
/// (`FlushProcessWriteBuffers`: an interrupt to each processor running one
/// of its threads, which drains that processor's store buffer). It cannot
/// fail.
///
/// Wine 8 implements it as a stub that does nothing (its log says
/// `NtFlushProcessWriteBuffers stub`), so under Wine 8 a flush that races
/// with an owner's allocation is not ordered; Windows itself is.
pub(in crate::thread_cache) fn barrier_on_all_threads() -> bool {
    // SAFETY: takes no arguments, touches no memory of ours.
    unsafe { FlushProcessWriteBuffers() };
    true
}

/// Windows has no `fork`: nothing can copy the caches into a child, so
/// there is nothing to install.
pub(in crate::thread_cache) fn at_fork(
    _prepare: extern "C" fn(),
    _parent: extern "C" fn(),
    _child: extern "C" fn(),
) -> bool {
    true
}
