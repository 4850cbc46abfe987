//! Where the program runs: Windows itself, or Wine, whose `HeapAlloc` is
//! Wine's own heap (in its ntdll), not Windows'. The report's header says
//! which, so that a table measured under Wine cannot pass for one measured
//! on Windows, and what the two kinds of lock cost there: ours takes an
//! SRW lock (the platform's lock hooks) once per call into the core, Wine's
//! heap a critical section, and Wine's SRW lock is not Windows' either.

use core::ffi::{CStr, c_char};
use core::hint::black_box;
use std::time::Instant;

use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
use windows_sys::Win32::System::Threading::{
    AcquireSRWLockExclusive, CRITICAL_SECTION, DeleteCriticalSection, EnterCriticalSection,
    InitializeCriticalSection, LeaveCriticalSection, ReleaseSRWLockExclusive, SRWLOCK_INIT,
};

/// Wine's version, or `None` on Windows: Wine's ntdll exports
/// `wine_get_version`, and Windows' does not.
fn wine_version() -> Option<String> {
    // SAFETY: a NUL-terminated name; ntdll is loaded in every process, and
    // the handle needs no release.
    let ntdll = unsafe { GetModuleHandleA(c"ntdll.dll".as_ptr().cast()) };
    if ntdll.is_null() {
        return None;
    }
    // SAFETY: a module handle and a NUL-terminated name.
    let found = unsafe { GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()) }?;
    // SAFETY: Wine declares it `const char *wine_get_version(void)`, and
    // on x86_64 the "system" and "C" calling conventions are one.
    let get: unsafe extern "C" fn() -> *const c_char = unsafe { core::mem::transmute(found) };
    // SAFETY: takes nothing; returns a static string or null.
    let version = unsafe { get() };
    if version.is_null() {
        return Some("(version unknown)".into());
    }
    // SAFETY: a NUL-terminated string that lives as long as the process.
    Some(
        unsafe { CStr::from_ptr(version) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// The report's sentence on where the heaps ran.
pub fn describe() -> String {
    match wine_version() {
        Some(version) => format!(
            "Measured under Wine {version}: Wine's heap is not Windows'. \
             `HeapAlloc` and `System` here are Wine's implementation of the \
             Windows heap (in its ntdll), so these ratios are indicative only."
        ),
        None => "Measured on Windows: `HeapAlloc` and `System` are the Windows heap.".into(),
    }
}

/// The best of five runs of `pairs` calls of `pair`, in ns per call.
fn best_ns(pairs: u32, mut pair: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..pairs {
                pair();
            }
            start.elapsed().as_nanos() as f64 / f64::from(pairs)
        })
        .fold(f64::INFINITY, f64::min)
}

/// The report's sentence on what an uncontended acquire and release costs
/// here, for an SRW lock and a critical section (best of five runs: the
/// machine may be busy).
pub fn lock_costs() -> String {
    const PAIRS: u32 = 200_000;
    let mut srw = SRWLOCK_INIT;
    let srw_ns = best_ns(PAIRS, || {
        let lock = black_box(&raw mut srw);
        // SAFETY: a live, initialised SRW lock that only this thread takes.
        unsafe {
            AcquireSRWLockExclusive(lock);
            ReleaseSRWLockExclusive(lock);
        }
    });
    // SAFETY: all zeros is a valid value of this plain C struct, and it
    // is initialised before any other use.
    let mut section: CRITICAL_SECTION = unsafe { core::mem::zeroed() };
    // SAFETY: a live critical section, initialised once, entered and left
    // by this thread only, and deleted when no longer used.
    let section_ns = unsafe {
        InitializeCriticalSection(&mut section);
        let ns = best_ns(PAIRS, || {
            let section = black_box(&raw mut section);
            EnterCriticalSection(section);
            LeaveCriticalSection(section);
        });
        DeleteCriticalSection(&mut section);
        ns
    };
    format!(
        "Uncontended lock and unlock on this host (best of 5 runs of {PAIRS}): \
         an SRW lock {srw_ns:.1} ns (ours takes one per call into the core, \
         two per alloc/free pair), a critical section {section_ns:.1} ns \
         (Wine's heap takes one in every call)."
    )
}
