//! [`ReportLine`]: the line a platform's `custom_abort` writes, assembled
//! on the stack. The hook runs with a heap lock held and often a corrupt
//! heap, so it must not allocate or format through `core::fmt` (which a
//! `no_std` platform may not want to link); every platform crate of this
//! project builds its line here, and a platform of your own can too.

use core::ffi::{CStr, c_char};

/// A line of at most [`ReportLine::CAPACITY`] bytes, built by appending;
/// what does not fit is cut, and the line end always fits.
///
/// ```
/// use dlmalloc_sys::report::ReportLine;
///
/// let mut line = ReportLine::new();
/// line.push(b"dlmalloc: ");
/// // SAFETY: two C string literals.
/// unsafe { line.push_abort_report(c"double free".as_ptr(), c"heap.c".as_ptr(), 219) };
/// assert_eq!(line.finish(b"\n"), b"dlmalloc: double free (heap.c:219)\n");
/// ```
pub struct ReportLine {
    buf: [u8; ReportLine::CAPACITY],
    len: usize,
}

impl ReportLine {
    /// The most bytes a line holds, its end included.
    pub const CAPACITY: usize = 512;
    /// Room kept for the line end ("\n" or "\r\n").
    const END_ROOM: usize = 2;

    /// An empty line.
    pub const fn new() -> Self {
        ReportLine {
            buf: [0; ReportLine::CAPACITY],
            len: 0,
        }
    }

    /// Appends as much of `bytes` as fits before the room kept for the
    /// line end.
    pub fn push(&mut self, bytes: &[u8]) -> &mut Self {
        let take = bytes.len().min(Self::CAPACITY - Self::END_ROOM - self.len);
        self.buf[self.len..self.len + take].copy_from_slice(&bytes[..take]);
        self.len += take;
        self
    }

    /// Appends `value` in decimal.
    pub fn push_decimal(&mut self, mut value: u32) -> &mut Self {
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
        self.push(&digits[start..])
    }

    /// Appends `<msg> (<file>:<line>)` from `custom_abort`'s arguments; a
    /// null `msg` or `file` reads `?`. `file` need not be ASCII: its bytes
    /// are copied as they are.
    ///
    /// # Safety
    ///
    /// `msg` and `file` must each be null or point to a NUL-terminated
    /// string.
    pub unsafe fn push_abort_report(
        &mut self,
        msg: *const c_char,
        file: *const c_char,
        line: u32,
    ) -> &mut Self {
        // SAFETY: the caller guarantees null or valid C strings.
        let (msg, file) = unsafe { (c_bytes(msg), c_bytes(file)) };
        self.push(msg).push(b" (").push(file).push(b":");
        self.push_decimal(line).push(b")")
    }

    /// Ends the line with `end` (at most two bytes: "\n", or "\r\n" for a
    /// Windows console) and returns it.
    pub fn finish(&mut self, end: &[u8]) -> &[u8] {
        let end = &end[..end.len().min(Self::END_ROOM)];
        self.buf[self.len..self.len + end.len()].copy_from_slice(end);
        self.len += end.len();
        &self.buf[..self.len]
    }
}

impl Default for ReportLine {
    fn default() -> Self {
        Self::new()
    }
}

/// The bytes of a C string, `?` for null.
///
/// # Safety
///
/// `text` must be null or point to a NUL-terminated string that stays valid
/// for the returned lifetime.
unsafe fn c_bytes<'a>(text: *const c_char) -> &'a [u8] {
    if text.is_null() {
        return b"?";
    }
    // SAFETY: non-null, and the caller guarantees a valid C string.
    unsafe { CStr::from_ptr(text) }.to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_is_cut_and_keeps_its_line_end() {
        let long = [b'x'; 600];
        let mut line = ReportLine::new();
        line.push(b"dlmalloc: ").push(&long);
        let out = line.finish(b"\r\n");
        assert_eq!(out.len(), ReportLine::CAPACITY);
        assert!(out.ends_with(b"xx\r\n"));
    }

    #[test]
    fn null_strings_read_as_question_marks() {
        let mut line = ReportLine::new();
        // SAFETY: null is allowed.
        unsafe { line.push_abort_report(core::ptr::null(), core::ptr::null(), 0) };
        assert_eq!(line.finish(b"\n"), b"? (?:0)\n");
    }

    #[test]
    fn decimals_cover_the_whole_range() {
        let mut line = ReportLine::new();
        line.push_decimal(0).push(b" ").push_decimal(u32::MAX);
        assert_eq!(line.finish(b""), b"0 4294967295");
    }
}
