//! `custom_abort`: report a fatal heap error and stop, without allocating.
//!
//! Why it must not allocate: the core calls it when it has found the heap
//! corrupt or misused (a double free, a broken boundary tag), usually in the
//! middle of an operation, with the heap lock held. An allocation here would
//! call `acquire_lock` on that same lock, which is not recursive: the thread
//! would wait for itself forever and the report would never appear. And even
//! without the lock, the heap is the thing found broken. So the report is
//! assembled in a buffer on the stack and written with one system call;
//! no `format!`, no `String`, no `panic!` (whose machinery allocates the
//! payload and may run a panic hook that allocates too).
//!
//! On your platform, replace [`write_console`] with whatever reaches a
//! human without allocating: a UART register, a debug port, UEFI's
//! `ConOut->OutputString` from a stack buffer, `DbgPrint` in a Windows
//! driver, and replace [`std::process::abort`] with your way to stop: a
//! panic/halt loop, a watchdog reset, `KeBugCheckEx`.

use core::ffi::c_char;

// The line is built on the stack by the core's crate, which every platform
// depends on anyway.
use dlmalloc_sys::report::ReportLine;

/// Writes `bytes` to standard error with `write(2)`, continuing after short
/// writes; gives up at the first failure (there is nowhere to report it).
fn write_console(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe a live byte slice.
        let written =
            unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(written) {
            Ok(n) if n > 0 => bytes = &bytes[n.min(bytes.len())..],
            _ => return,
        }
    }
}

/// Reports a fatal heap error and stops the program; never returns.
///
/// Writes `custom-platform: heap error: <msg> (<file>:<line>)` as one line
/// to standard error, then aborts the process (`SIGABRT`).
///
/// **The core guarantees:** `msg` is a NUL-terminated ASCII string naming
/// the problem; `file` is a NUL-terminated string naming the core's C
/// source file that found it (not necessarily ASCII: it is a build path);
/// `line` is the line there. The call may come with any of the core's locks
/// held and with the heap in an inconsistent state.
///
/// **You must guarantee:** the function does not return (the C prototype
/// is `noreturn`: code after the call is not compiled to continue), does
/// not allocate through this allocator and does not call into it, and does
/// not take a lock the core might hold.
///
/// # Safety
///
/// `msg` and `file` must each be null or point to a NUL-terminated string;
/// anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_abort(msg: *const c_char, file: *const c_char, line: u32) -> ! {
    let mut out = ReportLine::new();
    out.push(b"custom-platform: heap error: ");
    // SAFETY: the caller guarantees null or valid C strings.
    unsafe { out.push_abort_report(msg, file, line) };
    write_console(out.finish(b"\n"));
    std::process::abort()
}
