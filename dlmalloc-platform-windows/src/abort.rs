//! `custom_abort`: report a fatal heap error on stderr and end the process,
//! without allocating (the heap is locked and may be corrupt).
//!
//! How the process ends matters. `ExitProcess` would run every DLL's
//! `DLL_PROCESS_DETACH` handler, TLS callbacks and the C runtime's `atexit`
//! list first; any of them may free or allocate and so re-enter the heap
//! whose lock the core holds right now (a deadlock) or walk its corrupt
//! bins. `TerminateProcess` on the current process runs none of that: it
//! ends every thread at once. The exit code is 3, the code the C runtime's
//! `abort()` uses on Windows, so scripts and parent processes see the
//! usual "aborted" status.

use core::ffi::c_char;

use dlmalloc_sys::report::ReportLine;

use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
use windows_sys::Win32::Storage::FileSystem::WriteFile;
use windows_sys::Win32::System::Console::{GetStdHandle, STD_ERROR_HANDLE};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, TerminateProcess};

/// The exit code of a process ended by [`custom_abort`]: 3, as the C
/// runtime's `abort()` on Windows.
pub const ABORT_EXIT_CODE: u32 = 3;

/// The line end: a console, or a log opened by Notepad, shows CR LF as one
/// line end.
const CRLF: &[u8] = b"\r\n";

/// Writes all of `bytes` to the process's standard error handle with
/// `WriteFile`, continuing after short writes; gives up silently when
/// there is no handle (a GUI program) or a write fails, since there is
/// nowhere left to report that.
fn write_stderr(mut bytes: &[u8]) {
    // SAFETY: GetStdHandle only reads the process parameters.
    let handle = unsafe { GetStdHandle(STD_ERROR_HANDLE) };
    if handle.is_null() || handle == INVALID_HANDLE_VALUE {
        return;
    }
    while !bytes.is_empty() {
        let chunk = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let mut written = 0u32;
        // SAFETY: the buffer is a live slice of at least `chunk` bytes,
        // `written` is a live u32, and a synchronous write needs no
        // OVERLAPPED (null).
        let ok = unsafe {
            WriteFile(
                handle,
                bytes.as_ptr(),
                chunk,
                &mut written,
                core::ptr::null_mut(),
            )
        };
        if ok == 0 || written == 0 {
            return;
        }
        bytes = &bytes[(written as usize).min(bytes.len())..];
    }
}

/// Ends the process at once with [`ABORT_EXIT_CODE`]; see the file's
/// comment for why not `ExitProcess`.
fn terminate() -> ! {
    loop {
        // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no
        // closing; terminating the current process has no preconditions
        // and does not return when it succeeds.
        unsafe { TerminateProcess(GetCurrentProcess(), ABORT_EXIT_CODE) };
    }
}

/// Writes `dlmalloc: <message>` to stderr and ends the process. For this
/// crate's own fatal errors.
pub(crate) fn die(message: &[u8]) -> ! {
    let mut line = ReportLine::new();
    line.push(b"dlmalloc: ").push(message);
    write_stderr(line.finish(CRLF));
    terminate()
}

/// Reports a fatal heap error and ends the process; never returns.
///
/// Writes one line, `dlmalloc: <msg> (<file>:<line>)`, to standard error
/// with `WriteFile` from a stack buffer, then ends the process with
/// `TerminateProcess` and exit code 3 (that of the C runtime's `abort()`).
/// Nothing is allocated, no lock is taken, and no DLL detach handler or
/// `atexit` function runs: the core calls this with its heap lock held,
/// often because the heap is corrupt. A null `msg` or `file` prints as
/// `?`; `file` need not be ASCII (its bytes are written as they are).
/// A line is cut at 512 bytes ([`ReportLine`]). A program without a standard error
/// handle (a GUI program) ends the same way, silently.
///
/// # Safety
///
/// `msg` and `file` must each be null or point to a NUL-terminated string;
/// anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_abort(msg: *const c_char, file: *const c_char, line: u32) -> ! {
    let mut out = ReportLine::new();
    out.push(b"dlmalloc: ");
    // SAFETY: the caller guarantees both are null or valid C strings.
    unsafe { out.push_abort_report(msg, file, line) };
    write_stderr(out.finish(CRLF));
    terminate()
}
