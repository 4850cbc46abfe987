//! `custom_abort`: report a fatal heap error on stderr and abort the process,
//! without allocating (the heap is locked and may be corrupt).

use core::ffi::{CStr, c_char};

/// Longest report line written; longer messages are cut, the line kept.
const LINE_CAPACITY: usize = 512;

/// A report line assembled on the stack.
struct Line {
    buf: [u8; LINE_CAPACITY],
    len: usize,
}

impl Line {
    const fn new() -> Self {
        Self {
            buf: [0; LINE_CAPACITY],
            len: 0,
        }
    }

    /// Appends as much of `bytes` as fits, always keeping one byte free for
    /// the final newline.
    fn push(&mut self, bytes: &[u8]) {
        let room = LINE_CAPACITY - 1 - self.len;
        let take = bytes.len().min(room);
        self.buf[self.len..self.len + take].copy_from_slice(&bytes[..take]);
        self.len += take;
    }

    /// Appends `value` in decimal.
    fn push_decimal(&mut self, mut value: u32) {
        let mut digits = [0u8; 10];
        let mut start = digits.len();
        loop {
            start -= 1;
            // `value % 10` is below 10, so the cast cannot truncate.
            digits[start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        self.push(&digits[start..]);
    }

    /// Ends the line and returns it.
    fn finish(&mut self) -> &[u8] {
        self.buf[self.len] = b'\n';
        self.len += 1;
        &self.buf[..self.len]
    }
}

/// The bytes of a C string, or `fallback` for null.
///
/// # Safety
///
/// `text` must be null or point to a NUL-terminated string that stays valid
/// for the returned lifetime; anything else is undefined behavior.
unsafe fn c_bytes(text: *const c_char, fallback: &[u8]) -> &[u8] {
    if text.is_null() {
        return fallback;
    }
    // SAFETY: non-null, and the caller guarantees a valid C string.
    unsafe { CStr::from_ptr(text) }.to_bytes()
}

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
    let mut line = Line::new();
    line.push(b"dlmalloc: ");
    line.push(message);
    write_stderr(line.finish());
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
/// `file` need not be ASCII (its bytes are written as they are). Lines
/// longer than 511 bytes are cut.
///
/// # Safety
///
/// `msg` and `file` must each be null or point to a NUL-terminated string;
/// anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_abort(msg: *const c_char, file: *const c_char, line: u32) -> ! {
    // SAFETY: the caller guarantees both are null or valid C strings, and
    // they outlive this call, which never returns.
    let (msg, file) = unsafe { (c_bytes(msg, b"?"), c_bytes(file, b"?")) };
    let mut out = Line::new();
    out.push(b"dlmalloc: ");
    out.push(msg);
    out.push(b" (");
    out.push(file);
    out.push(b":");
    out.push_decimal(line);
    out.push(b")");
    write_stderr(out.finish());
    // SAFETY: abort has no preconditions; it ends the process.
    unsafe { libc::abort() }
}
