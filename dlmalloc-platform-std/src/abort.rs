//! `custom_abort`: report a fatal heap error on stderr and abort the process,
//! without allocating (the heap is locked and may be corrupt).

use core::ffi::c_char;

use dlmalloc_sys::report::ReportLine;

/// Failed `write(2)` calls tolerated before giving up (one may fail with
/// `EINTR` when a signal arrives; errno is not portable to read here).
const WRITE_ATTEMPTS: u32 = 4;

/// Writes all of `bytes` to stderr, continuing after short writes and
/// retrying a few failed ones; then gives up silently (there is nowhere to
/// report that stderr is broken).
fn write_stderr(mut bytes: &[u8]) {
    let mut failures = 0;
    while !bytes.is_empty() && failures < WRITE_ATTEMPTS {
        // SAFETY: the pointer and length describe a live byte slice.
        let written =
            unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(written) {
            Ok(n) if n > 0 => bytes = &bytes[n.min(bytes.len())..],
            _ => failures += 1,
        }
    }
}

/// Writes `dlmalloc: <message>\n` to stderr and aborts. For this crate's own
/// fatal errors.
pub(crate) fn die(message: &[u8]) -> ! {
    let mut line = ReportLine::new();
    line.push(b"dlmalloc: ").push(message);
    write_stderr(line.finish(b"\n"));
    // SAFETY: abort has no preconditions; it ends the process.
    unsafe { libc::abort() }
}

/// Reports a fatal heap error and aborts the process; never returns.
///
/// Writes one line, `dlmalloc: <msg> (<file>:<line>)`, to standard error
/// with `write(2)` from a stack buffer, then calls `abort()`, so the process
/// dies by `SIGABRT` (and dumps core where enabled). Nothing is allocated
/// and no lock is taken: the core calls this with its heap lock held, often
/// because the heap is corrupt. A null `msg` or `file` prints as `?`;
/// `file` need not be ASCII (its bytes are written as they are). A line
/// is cut at 512 bytes ([`ReportLine`]).
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
    write_stderr(out.finish(b"\n"));
    // SAFETY: abort has no preconditions; it ends the process.
    unsafe { libc::abort() }
}
