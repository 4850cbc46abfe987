//! Whole-heap consistency check and the error that reports its findings.

use core::ffi::{CStr, c_char, c_void};
use core::fmt;

/// How many violations a [`HeapCheckError`] records in detail.
const RECORDED: usize = 8;

/// One broken heap invariant found by a heap check
/// ([`DLMalloc::heap_check`](crate::DLMalloc::heap_check) and the
/// `heap_check` of the other heap types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    what: &'static CStr,
    address: usize,
}

impl Violation {
    /// A placeholder for the unused slots of a [`HeapCheckError`].
    const NONE: Violation = Violation {
        what: c"",
        address: 0,
    };

    /// What is wrong, as the core describes it (static ASCII text such as a
    /// broken boundary tag or a chunk missing from its bin).
    pub fn what(&self) -> &'static str {
        self.what
            .to_str()
            .unwrap_or("(description is not valid UTF-8)")
    }

    /// The address of the chunk or record concerned.
    pub fn address(&self) -> usize {
        self.address
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}: {}", self.address, self.what())
    }
}

/// The violations of heap invariants that a heap check found.
///
/// Records the first few violations in detail ([`violations`]) and counts
/// all of them ([`count`]). Building it never allocates: the check runs
/// with the heap lock held.
///
/// [`violations`]: HeapCheckError::violations
/// [`count`]: HeapCheckError::count
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HeapCheckError {
    count: usize,
    recorded: usize,
    first: [Violation; RECORDED],
}

impl HeapCheckError {
    pub(crate) const fn new() -> HeapCheckError {
        HeapCheckError {
            count: 0,
            recorded: 0,
            first: [Violation::NONE; RECORDED],
        }
    }

    /// The outcome of a check that counted `found` violations and reported
    /// them into `self`.
    #[allow(
        clippy::result_large_err,
        reason = "the error cannot be boxed: the crate has no allocator of its own and the \
                  report is built under the heap lock; a failed check is rare"
    )]
    pub(crate) fn into_result(mut self, found: usize) -> Result<(), HeapCheckError> {
        self.count = self.count.max(found);
        if self.count == 0 { Ok(()) } else { Err(self) }
    }

    fn push(&mut self, violation: Violation) {
        if self.recorded < RECORDED {
            self.first[self.recorded] = violation;
            self.recorded += 1;
        }
        self.count += 1;
    }

    /// The total number of violations found.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The first violations found (at most eight), in the order the check
    /// met them.
    pub fn violations(&self) -> &[Violation] {
        &self.first[..self.recorded]
    }
}

impl fmt::Debug for HeapCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeapCheckError")
            .field("count", &self.count)
            .field("violations", &self.violations())
            .finish()
    }
}

impl fmt::Display for HeapCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.count == 1 { "" } else { "s" };
        write!(f, "heap check found {} violation{plural}", self.count)?;
        for violation in self.violations() {
            write!(f, "\n  {violation}")?;
        }
        let unlisted = self.count - self.recorded;
        if unlisted > 0 {
            write!(f, "\n  ... and {unlisted} more")?;
        }
        Ok(())
    }
}

impl core::error::Error for HeapCheckError {}

/// The `dlmalloc_check` / `mspace_check` callback: records one violation in
/// the `HeapCheckError` that `arg` points to. Runs with the heap lock held,
/// so it must not allocate, and it does not.
///
/// # Safety
///
/// `arg` must point to a `HeapCheckError` that nothing else uses during the
/// call, and `what` must be null or static NUL-terminated text; otherwise
/// the behavior is undefined.
pub(crate) unsafe extern "C" fn record(what: *const c_char, at: *const c_void, arg: *mut c_void) {
    // SAFETY: `arg` is the `&mut HeapCheckError` that `heap_check` passed to
    // the check, which calls back only before it returns; nothing else uses
    // the error meanwhile (this function's contract).
    let report = unsafe { &mut *arg.cast::<HeapCheckError>() };
    let what = if what.is_null() {
        c"(no description)"
    } else {
        // SAFETY: the core passes static NUL-terminated text (CheckReport's
        // contract), so the 'static lifetime holds.
        unsafe { CStr::from_ptr(what) }
    };
    report.push(Violation {
        what,
        address: at as usize,
    });
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::string::ToString;

    use super::{HeapCheckError, RECORDED, Violation};

    #[test]
    fn report_keeps_the_first_violations_and_counts_all() {
        let mut report = HeapCheckError::new();
        for i in 0..RECORDED + 2 {
            report.push(Violation {
                what: c"chunk size out of range",
                address: 0x1000 + i * 0x10,
            });
        }
        assert_eq!(report.count(), RECORDED + 2);
        assert_eq!(report.violations().len(), RECORDED);
        assert_eq!(report.violations()[1].address(), 0x1010);
        assert_eq!(report.violations()[0].what(), "chunk size out of range");

        let text = report.to_string();
        assert!(text.starts_with("heap check found 10 violations\n"));
        assert!(text.contains("\n  0x1000: chunk size out of range\n"));
        assert!(text.ends_with("\n  ... and 2 more"));
    }

    #[test]
    fn one_violation_reads_in_the_singular() {
        let mut report = HeapCheckError::new();
        report.push(Violation {
            what: c"top size mismatch",
            address: 0xabc0,
        });
        assert_eq!(
            report.to_string(),
            "heap check found 1 violation\n  0xabc0: top size mismatch"
        );
    }
}
