//! `custom_abort`: reports a fatal heap error on standard error and aborts,
//! without allocating (the core may call it with a heap lock held).

use core::ffi::{CStr, c_char};

/// Longest report written; a longer one is cut.
const CAPACITY: usize = 512;

/// The bytes of the C string `text`, or `b"?"` for null.
///
/// # Safety
///
/// `text` must be null or point to a NUL-terminated string that lives for
/// `'a`; anything else is undefined behavior.
unsafe fn c_bytes<'a>(text: *const c_char) -> &'a [u8] {
    if text.is_null() {
        return b"?";
    }
    // SAFETY: non-null, and the caller guarantees a valid C string.
    unsafe { CStr::from_ptr(text) }.to_bytes()
}

/// Appends as much of `bytes` to `buf[*len..]` as fits.
fn push(buf: &mut [u8; CAPACITY], len: &mut usize, bytes: &[u8]) {
    let take = bytes.len().min(CAPACITY - *len);
    buf[*len..*len + take].copy_from_slice(&bytes[..take]);
    *len += take;
}

/// Writes `dlmalloc: <msg> (<file>:<line>)` as one line to standard error
/// with `write(2)`, then aborts the process (`SIGABRT`). The prefix is the
/// one dlmalloc-platform-std writes, so the same tools read both.
///
/// # Safety
///
/// `msg` and `file` must each be null or point to a NUL-terminated string;
/// anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_abort(msg: *const c_char, file: *const c_char, line: u32) -> ! {
    let mut buf = [0u8; CAPACITY];
    let mut len = 0;
    let mut digits = [0u8; 10];
    let mut first_digit = digits.len();
    let mut rest = line;
    loop {
        first_digit -= 1;
        // `rest % 10` is below 10: the cast cannot truncate.
        digits[first_digit] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    // SAFETY: the core passes null or valid C strings, which outlive this
    // call because it never returns.
    let (msg, file) = unsafe { (c_bytes(msg), c_bytes(file)) };
    for part in [
        b"dlmalloc: ".as_slice(),
        msg,
        b" (",
        file,
        b":",
        &digits[first_digit..],
        b")\n",
    ] {
        push(&mut buf, &mut len, part);
    }
    // SAFETY: the pointer and length describe initialised bytes of `buf`.
    // A failed or short write has nowhere to be reported: abort anyway.
    unsafe { libc::write(libc::STDERR_FILENO, buf.as_ptr().cast(), len) };
    std::process::abort()
}
