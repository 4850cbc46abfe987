//! The benchmark binary for `portable-dlmalloc`. That crate exports the
//! same C symbols as this project's core (`dlmalloc`, `dlfree`, the
//! `custom_*` hooks, ...), so it cannot share a process with our
//! allocators: it runs here, next to the reference allocators (`System`
//! and dlmalloc-rs) that the report uses to join the two processes' numbers.
//!
//! The hooks below are the platform `portable-dlmalloc` asks its user to
//! provide: pages from `mmap`, a lock in one pointer-sized slot (a futex
//! lock that sleeps under contention, like our hosted platform's, so the
//! comparison is about the allocators and not their locks), and an abort
//! that does not allocate.

use core::ffi::{c_char, c_void};
use core::sync::atomic::{AtomicU32, Ordering};

use bench_harness::runner::{self, Contender};

static PORTABLE: portable_dlmalloc::DLMalloc = portable_dlmalloc::DLMalloc;
static SYSTEM: std::alloc::System = std::alloc::System;
static DLMALLOC_RS: dlmalloc_rs::GlobalDlmalloc = dlmalloc_rs::GlobalDlmalloc;

/// Pages from the system; `usize::MAX` as a pointer on failure.
///
/// # Safety
///
/// Called by the allocator core only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_mmap(length: usize) -> *mut c_void {
    // SAFETY: an anonymous private mapping touches no existing memory.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            length,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        usize::MAX as *mut c_void
    } else {
        p
    }
}

/// Gives pages back to the system.
///
/// # Safety
///
/// `ptr` and `length` describe pages obtained from `custom_mmap`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_munmap(ptr: *mut c_void, length: usize) -> i32 {
    // SAFETY: the core only unmaps ranges it got from custom_mmap.
    unsafe { libc::munmap(ptr, length) }
}

/// The lock word inside the slot: 0 free, 1 held, 2 held with waiters.
///
/// # Safety
///
/// `slot` points to a live, pointer-aligned lock slot.
unsafe fn word<'a>(slot: *mut *mut c_void) -> &'a AtomicU32 {
    // SAFETY: a pointer-sized, pointer-aligned slot holds an aligned u32,
    // and only these hooks access it.
    unsafe { AtomicU32::from_ptr(slot.cast()) }
}

/// Sleeps while the word still holds `value`.
fn futex_wait(word: &AtomicU32, value: u32) {
    // SAFETY: FUTEX_WAIT on a live u32; spurious returns are fine.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            value,
            core::ptr::null::<libc::timespec>(),
        );
    }
}

/// Wakes one sleeper on the word.
fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a live u32.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

/// # Safety
///
/// `slot` points to a live lock slot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn init_lock(slot: *mut *mut c_void) {
    // SAFETY: the core passes its lock slot; clearing it whole also clears
    // the half the lock word does not use.
    unsafe { slot.write(core::ptr::null_mut()) };
}

/// # Safety
///
/// `slot` points to a live lock slot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn final_lock(_slot: *mut *mut c_void) {}

/// # Safety
///
/// `slot` points to a live lock slot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn acquire_lock(slot: *mut *mut c_void) {
    // SAFETY: the core passes its lock slot.
    let lock = unsafe { word(slot) };
    if lock
        .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return;
    }
    // Contended: mark waiters and sleep until the holder hands over.
    while lock.swap(2, Ordering::Acquire) != 0 {
        futex_wait(lock, 2);
    }
}

/// # Safety
///
/// `slot` points to a lock slot the caller holds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn release_lock(slot: *mut *mut c_void) {
    // SAFETY: the core passes its lock slot.
    let lock = unsafe { word(slot) };
    if lock.swap(0, Ordering::Release) == 2 {
        futex_wake(lock);
    }
}

/// Reports a heap error and aborts, with `write(2)` only: the heap lock may
/// be held, so nothing here may allocate.
///
/// # Safety
///
/// `msg` and `file` are null or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_abort(msg: *const c_char, file: *const c_char, line: u32) -> ! {
    fn put(bytes: &[u8]) {
        // SAFETY: writes a live buffer to stderr.
        unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
    }
    fn put_c(s: *const c_char) {
        if !s.is_null() {
            // SAFETY: the core passes NUL-terminated strings.
            put(unsafe { core::ffi::CStr::from_ptr(s) }.to_bytes());
        }
    }
    put(b"portable-dlmalloc abort: ");
    put_c(msg);
    put(b" at ");
    put_c(file);
    let mut digits = [0u8; 10];
    let mut n = line;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    put(b":");
    put(&digits[i..]);
    put(b"\n");
    // SAFETY: ends the process without unwinding into C.
    unsafe { libc::abort() }
}

fn main() {
    runner::main(
        "portable",
        &[
            Contender {
                name: "portable-dlmalloc",
                alloc: &PORTABLE,
            },
            Contender {
                name: "System",
                alloc: &SYSTEM,
            },
            Contender {
                name: "dlmalloc-rs",
                alloc: &DLMALLOC_RS,
            },
        ],
        &[],
    );
}
