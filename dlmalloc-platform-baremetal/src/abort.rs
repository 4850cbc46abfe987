//! `custom_abort`: a detected heap error becomes a panic, so the program's
//! panic handler reports it.

use core::ffi::{CStr, c_char};
use core::fmt;

/// Bytes shown as text: valid UTF-8 as it is, each invalid sequence as
/// U+FFFD. Formatting it never allocates.
struct Lossy<'a>(&'a [u8]);

impl fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{FFFD}")?;
            }
        }
        Ok(())
    }
}

/// The bytes of a C string, or `?` for null.
///
/// # Safety
///
/// `text` must be null or point to a NUL-terminated string that stays valid
/// for the returned lifetime; anything else is undefined behavior.
unsafe fn c_bytes<'a>(text: *const c_char) -> &'a [u8] {
    if text.is_null() {
        return b"?";
    }
    // SAFETY: non-null, and the caller guarantees a valid C string.
    unsafe { CStr::from_ptr(text) }.to_bytes()
}

/// Reports a fatal heap error by panicking; never returns.
///
/// The panic message is `dlmalloc: <msg> (<file>:<line>)`, for example
/// `dlmalloc: free of a chunk that is not in use (heap.c:212)`. A null `msg`
/// or `file` shows as `?`; bytes of `file` that are not UTF-8 show as U+FFFD.
/// Building the message allocates nothing.
///
/// The core calls this with the heap lock held (and, with the
/// `critical-section` feature, interrupts off), usually because the heap is
/// corrupt: the program's `#[panic_handler]` must not allocate. The panic
/// cannot unwind out of this `extern "C"` function: with `panic = "abort"`
/// (usual on bare metal) the handler runs and does not return; with
/// unwinding, Rust aborts after the handler.
///
/// # Safety
///
/// `msg` and `file` must each be null or point to a NUL-terminated string;
/// anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_abort(msg: *const c_char, file: *const c_char, line: u32) -> ! {
    // SAFETY: the caller guarantees both are null or valid C strings, and
    // they outlive this call, which never returns.
    let (msg, file) = unsafe { (c_bytes(msg), c_bytes(file)) };
    panic!("dlmalloc: {} ({}:{line})", Lossy(msg), Lossy(file))
}
