//! `custom_abort`: a detected heap error traps. On wasm32-wasip1 the
//! message goes to standard error first (WASI `fd_write`).

use core::arch::wasm32;
use core::ffi::c_char;

#[cfg(target_os = "wasi")]
mod stderr {
    use core::ffi::{CStr, c_char};

    /// A WASI `ciovec`: one buffer to write.
    #[repr(C)]
    struct Ciovec {
        buf: *const u8,
        len: usize,
    }

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        /// WASI preview 1 `fd_write`: writes the buffers to `fd`, stores the
        /// byte count in `*written`, returns an errno (0 on success).
        fn fd_write(fd: i32, iovs: *const Ciovec, iovs_len: usize, written: *mut usize) -> i32;
    }

    /// The bytes of a C string, or `?` for null.
    ///
    /// # Safety
    ///
    /// `text` must be null or point to a NUL-terminated string that stays
    /// valid for the returned lifetime; anything else is undefined behavior.
    unsafe fn c_bytes<'a>(text: *const c_char) -> &'a [u8] {
        if text.is_null() {
            return b"?";
        }
        // SAFETY: non-null, and the caller guarantees a valid C string.
        unsafe { CStr::from_ptr(text) }.to_bytes()
    }

    /// Writes `dlmalloc: <msg> (<file>:<line>)` and a newline to stderr
    /// (fd 2), without allocating. Errors are ignored: a trap follows.
    ///
    /// # Safety
    ///
    /// As for `custom_abort`.
    pub(super) unsafe fn report(msg: *const c_char, file: *const c_char, line: u32) {
        // SAFETY: the caller guarantees both are null or valid C strings.
        let (msg, file) = unsafe { (c_bytes(msg), c_bytes(file)) };
        let mut digits = [0u8; 10];
        let mut start = digits.len();
        let mut rest = line;
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let parts: [&[u8]; 7] = [
            b"dlmalloc: ",
            msg,
            b" (",
            file,
            b":",
            &digits[start..],
            b")\n",
        ];
        let iovs = parts.map(|part| Ciovec {
            buf: part.as_ptr(),
            len: part.len(),
        });
        let mut written = 0;
        // SAFETY: every ciovec points to a live buffer of its length, and
        // `written` is a valid place for the count.
        let _ = unsafe { fd_write(2, iovs.as_ptr(), iovs.len(), &mut written) };
    }
}

/// Reports a fatal heap error and traps; never returns.
///
/// On wasm32-wasip1 it first writes `dlmalloc: <msg> (<file>:<line>)` to
/// standard error with WASI `fd_write` (a null `msg` or `file` shows as `?`).
/// Then, on every target, it executes `unreachable`: the module traps
/// (a `RuntimeError` in JavaScript). Nothing is allocated: the core calls
/// this with the heap lock held, usually because the heap is corrupt.
///
/// # Safety
///
/// `msg` and `file` must each be null or point to a NUL-terminated string;
/// anything else is undefined behavior.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_abort(msg: *const c_char, file: *const c_char, line: u32) -> ! {
    // SAFETY: the caller guarantees both are null or valid C strings.
    #[cfg(target_os = "wasi")]
    unsafe {
        stderr::report(msg, file, line)
    };
    #[cfg(not(target_os = "wasi"))]
    let _ = (msg, file, line);
    wasm32::unreachable()
}
