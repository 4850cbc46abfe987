//! `errno`, where the platform has one: the C library's thread-local
//! variable on Linux. Elsewhere (bare metal, a kernel) there is no `errno`
//! for this crate to set, and the return value alone reports a failure.

/// Out of memory.
pub(crate) const ENOMEM: i32 = 12;
/// Invalid argument (an alignment that is not a power of two, say).
pub(crate) const EINVAL: i32 = 22;

// Linux's values, which these constants must equal where errno is set.
#[cfg(all(feature = "hosted", target_os = "linux"))]
const _: () = assert!(ENOMEM == libc::ENOMEM && EINVAL == libc::EINVAL);

/// Sets the calling thread's `errno` to `code`.
#[cfg(all(feature = "hosted", target_os = "linux"))]
#[inline]
pub(crate) fn set(code: i32) {
    // SAFETY: __errno_location returns the calling thread's errno, valid
    // for the thread's lifetime.
    unsafe { *libc::__errno_location() = code };
}

/// No `errno` on this platform: nothing to set.
#[cfg(not(all(feature = "hosted", target_os = "linux")))]
#[inline]
pub(crate) fn set(_code: i32) {}
