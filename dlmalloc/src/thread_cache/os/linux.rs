//! The thread cache's system calls on Linux: `getrandom`, `sysconf`, the
//! platform's `custom_mmap` and `madvise` for the arenas, `membarrier`, and
//! `pthread_atfork`.

use core::ffi::c_void;

/// A random word from the kernel, or `None` if it has none to give now.
pub(in crate::thread_cache) fn random_word() -> Option<usize> {
    let mut random = 0usize;
    // SAFETY: getrandom writes at most the given number of bytes into
    // `random`.
    let got = unsafe {
        libc::getrandom(
            (&raw mut random).cast(),
            size_of::<usize>(),
            libc::GRND_NONBLOCK,
        )
    };
    (got == size_of::<usize>() as isize).then_some(random)
}

/// Processors online (at least 1).
pub(in crate::thread_cache) fn cpu_count() -> usize {
    // SAFETY: sysconf reads a system value.
    let cores = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(cores).unwrap_or(1).max(1)
}

/// Reserves `length` bytes for the arenas through the platform; `None` if
/// it refuses (a platform with a fixed pool, say: its pages then all go to
/// the global heap). On Linux an untouched mapping costs no memory, so the
/// platform's ordinary `custom_mmap` serves, and its pages need no
/// [`commit`].
pub(in crate::thread_cache) fn reserve(length: usize) -> Option<usize> {
    // SAFETY: the platform's hook, with its contract: fresh page-aligned
    // memory, or one of the two failure values.
    let at = unsafe { dlmalloc_sys::custom_mmap(length) };
    (!at.is_null() && at != libc::MAP_FAILED).then_some(at as usize)
}

/// Makes `[at, at + length)` of the reservation usable: nothing to do, the
/// kernel backs pages when they are first touched.
#[inline(always)]
pub(in crate::thread_cache) fn commit(_at: usize, _length: usize) -> bool {
    true
}

/// Gives the pages of `[at, at + length)` back to the system, keeping the
/// range (reading them later gives zeros). `false` if nothing was released.
///
/// # Safety
///
/// The range lies in the reservation, and nothing uses its contents any
/// more: calling this on memory that still holds live data is undefined
/// behavior.
pub(in crate::thread_cache) unsafe fn decommit(at: usize, length: usize) -> bool {
    // SAFETY: the caller's contract.
    unsafe { libc::madvise(at as *mut c_void, length, libc::MADV_DONTNEED) == 0 }
}

/// Registers the process for expedited private membarriers (Linux 4.14+);
/// `false` if the kernel refuses (then no cache is used).
pub(in crate::thread_cache) fn register_barrier() -> bool {
    // SAFETY: a plain system call with integer arguments.
    unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            libc::MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
            0,
            0,
        ) == 0
    }
}

/// A full memory barrier on every running thread of this process; `false`
/// if the kernel refused it.
pub(in crate::thread_cache) fn barrier_on_all_threads() -> bool {
    // SAFETY: a plain system call; the process registered for it
    // ([`register_barrier`]) before any cache existed.
    unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            libc::MEMBARRIER_CMD_PRIVATE_EXPEDITED,
            0,
            0,
        ) == 0
    }
}

/// Installs handlers that run around `fork` (`pthread_atfork`), after
/// making sure the core (and so the platform's own fork handlers, which it
/// installs on its first lock initialisation) is set up: handlers run
/// prepare in reverse order of installation and child in order, so these
/// stop the caches before the heap locks are taken and empty dead threads'
/// caches after the child has its locks back. `false` if they could not be
/// installed.
pub(in crate::thread_cache) fn at_fork(
    prepare: extern "C" fn(),
    parent: extern "C" fn(),
    child: extern "C" fn(),
) -> bool {
    // SAFETY: sets the core up; callable at any time from any thread.
    unsafe { dlmalloc_sys::dlmalloc_init() };
    // SAFETY: the three handlers are `extern "C"` functions without
    // arguments (the caller's: they only touch the registry and caches).
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) == 0 }
}
