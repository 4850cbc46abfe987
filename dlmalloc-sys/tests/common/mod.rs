//! Helpers shared by the integration tests of the raw C API: a deterministic
//! PRNG, position-dependent byte patterns, the page size, heap checks (of
//! the global heap and of an mspace) that collect the checker's reports, a
//! per-binary lock for tests that assert exact global statistics, and the
//! re-executed child process that misuse tests abort in.
//!
//! Nothing here allocates through the dl heap: the test harness itself runs
//! on the system allocator, so the heap only sees the tests' explicit calls.

// Each test binary includes this module and uses a different subset of it.
#![allow(dead_code)]

use core::ffi::{CStr, c_char, c_void};
use std::sync::{Mutex, MutexGuard};

use dlmalloc_sys::{
    CheckReport, InspectHandler, Mspace, dlmalloc_check, dlmalloc_inspect_all, mspace_check,
    mspace_inspect_all,
};

unsafe extern "C" {
    /// The optional page-size hook; dlmalloc-platform-std defines it from
    /// `sysconf(_SC_PAGESIZE)`.
    fn custom_page_size() -> usize;
}

/// The system page size, as the platform reports it to the core.
pub fn page_size() -> usize {
    // SAFETY: the hook takes no arguments and has no preconditions.
    let page = unsafe { custom_page_size() };
    assert!(
        page.is_power_of_two() && page >= 4096,
        "custom_page_size() returned {page}"
    );
    page
}

/// Rounds `n` up to a multiple of the power of two `to`.
pub fn round_up(n: usize, to: usize) -> usize {
    (n + to - 1) & !(to - 1)
}

/// SplitMix64: small, fast, and the same sequence on every run.
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; `n` must not be 0.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Word `index` of the pattern for `seed`. `seed + index` is multiplied by
/// an odd constant (a bijection), so two different offsets of one block
/// never hold the same word, and a shifted or truncated copy is caught.
#[inline]
fn pattern_word(seed: u64, index: usize) -> u64 {
    seed.wrapping_add(index as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ 0xA5A5_5A5A_A5A5_5A5A
}

/// Byte `offset` of the pattern for `seed`.
#[inline]
pub fn pattern_byte(seed: u64, offset: usize) -> u8 {
    pattern_word(seed, offset / 8).to_le_bytes()[offset % 8]
}

/// Writes bytes `from..to` of the pattern for `seed` at `p + from ..`.
///
/// # Safety
///
/// `p + from .. p + to` must be writable.
pub unsafe fn fill(p: *mut u8, from: usize, to: usize, seed: u64) {
    let mut i = from;
    while i < to {
        if i % 8 == 0 && i + 8 <= to {
            // SAFETY: i + 8 <= to, inside the range the caller vouches for.
            unsafe {
                p.add(i)
                    .cast::<u64>()
                    .write_unaligned(pattern_word(seed, i / 8).to_le())
            };
            i += 8;
        } else {
            // SAFETY: i < to, inside the range the caller vouches for.
            unsafe { p.add(i).write(pattern_byte(seed, i)) };
            i += 1;
        }
    }
}

/// Returns the first offset in `from..to` where `p` differs from the
/// pattern for `seed`, or `None` when the whole range matches.
///
/// # Safety
///
/// `p + from .. p + to` must be readable.
pub unsafe fn first_mismatch(p: *const u8, from: usize, to: usize, seed: u64) -> Option<usize> {
    let mut i = from;
    while i < to {
        if i % 8 == 0 && i + 8 <= to {
            // SAFETY: i + 8 <= to, inside the range the caller vouches for.
            let word = unsafe { p.add(i).cast::<u64>().read_unaligned() };
            if word != pattern_word(seed, i / 8).to_le() {
                // Locate the exact byte for the message.
                return (i..i + 8).find(|&j| {
                    // SAFETY: j < i + 8 <= to.
                    let byte = unsafe { p.add(j).read() };
                    byte != pattern_byte(seed, j)
                });
            }
            i += 8;
        } else {
            // SAFETY: i < to, inside the range the caller vouches for.
            if unsafe { p.add(i).read() } != pattern_byte(seed, i) {
                return Some(i);
            }
            i += 1;
        }
    }
    None
}

/// Panics with `what` and the offset when `p` does not hold the pattern for
/// `seed` over `from..to`.
///
/// # Safety
///
/// As for [`first_mismatch`].
pub unsafe fn assert_pattern(p: *const u8, from: usize, to: usize, seed: u64, what: &str) {
    // SAFETY: forwarded from the caller.
    if let Some(at) = unsafe { first_mismatch(p, from, to, seed) } {
        // SAFETY: first_mismatch only returns offsets inside from..to.
        let found = unsafe { p.add(at).read() };
        panic!(
            "{what}: block {p:?} ({from}..{to}) corrupted at offset {at}: found {found:#04x}, \
             expected {:#04x}",
            pattern_byte(seed, at)
        );
    }
}

/// Returns true when all of `p .. p + len` is zero.
///
/// # Safety
///
/// `p .. p + len` must be readable.
pub unsafe fn all_zero(p: *const u8, len: usize) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { core::slice::from_raw_parts(p, len) }
        .iter()
        .all(|&b| b == 0)
}

/// What one heap check saw: the number of violations and the first few
/// (`what` text, address) pairs. Lives on the caller's stack: the report
/// callback runs with the heap lock held and must not allocate.
struct Report {
    count: usize,
    first: [(*const c_char, usize); 32],
}

unsafe extern "C" fn record(what: *const c_char, at: *const c_void, arg: *mut c_void) {
    // SAFETY: `arg` is the `&mut Report` that `collect_violations` passes,
    // alive for the whole check and not otherwise accessed.
    let report = unsafe { &mut *arg.cast::<Report>() };
    if report.count < report.first.len() {
        report.first[report.count] = (what, at as usize);
    }
    report.count += 1;
}

/// Runs one heap check (`check(report, arg)`, a call of `dlmalloc_check` or
/// `mspace_check`) with a report callback and returns one line per
/// violation (empty when the heap is sound). Also checks that the returned
/// count equals the number of reports.
fn collect_violations(
    check: impl FnOnce(Option<CheckReport>, *mut c_void) -> usize,
) -> Vec<String> {
    let mut report = Report {
        count: 0,
        first: [(core::ptr::null(), 0); 32],
    };
    let returned = check(Some(record), (&raw mut report).cast::<c_void>());
    let mut lines = Vec::new();
    for &(what, at) in report.first.iter().take(report.count) {
        let text = if what.is_null() {
            "<null description>".to_string()
        } else {
            // SAFETY: the header promises static NUL-terminated ASCII text.
            unsafe { CStr::from_ptr(what) }
                .to_string_lossy()
                .into_owned()
        };
        lines.push(format!("{text} at {at:#x}"));
    }
    if report.count > report.first.len() {
        lines.push(format!("... {} more", report.count - report.first.len()));
    }
    assert_eq!(
        returned, report.count,
        "the heap check returned {returned} but reported {} violations: {lines:?}",
        report.count
    );
    lines
}

/// Runs `dlmalloc_check` on the global heap; see [`collect_violations`].
pub fn heap_violations() -> Vec<String> {
    // SAFETY: `record` matches the callback contract and the report it
    // fills outlives the call.
    collect_violations(|report, arg| unsafe { dlmalloc_check(report, arg) })
}

/// Runs `mspace_check` on `msp`; see [`collect_violations`].
///
/// # Safety
///
/// `msp` must be a live mspace handle (created and not destroyed); anything
/// else is undefined behavior.
pub unsafe fn mspace_violations(msp: Mspace) -> Vec<String> {
    // SAFETY: the caller guarantees a live handle; `record` matches the
    // callback contract and the report it fills outlives the call.
    collect_violations(|report, arg| unsafe { mspace_check(msp, report, arg) })
}

/// Panics, listing the violations, unless mspace `msp` checks clean.
///
/// # Safety
///
/// As for [`mspace_violations`].
#[track_caller]
pub unsafe fn assert_mspace_ok(msp: Mspace, context: &str) {
    // SAFETY: forwarded from the caller.
    let lines = unsafe { mspace_violations(msp) };
    assert!(
        lines.is_empty(),
        "{context}: mspace_check({msp:?}) found {} violation(s):\n  {}",
        lines.len(),
        lines.join("\n  ")
    );
}

/// Panics, listing the violations, unless the global heap checks clean.
#[track_caller]
pub fn assert_heap_ok(context: &str) {
    let lines = heap_violations();
    assert!(
        lines.is_empty(),
        "{context}: dlmalloc_check found {} violation(s):\n  {}",
        lines.len(),
        lines.join("\n  ")
    );
}

static SERIAL: Mutex<()> = Mutex::new(());

/// Serialises the tests of one binary that assert exact global statistics
/// or arrange neighbouring chunks (the harness runs tests in parallel on the
/// one global heap). A failed test poisons nothing: the guard is recovered.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// True when block `b` starts right after block `a` ends: nothing but
/// chunk overhead (at most two words) between `a`'s usable bytes and `b`.
///
/// # Safety
///
/// `a` must be a live block of the global heap.
pub unsafe fn directly_follows(a: *const c_void, b: *const c_void) -> bool {
    // SAFETY: forwarded from the caller.
    let usable = unsafe { dlmalloc_sys::dlmalloc_usable_size(a) };
    let end = a as usize + usable;
    let b = b as usize;
    b >= end && b - end <= 2 * core::mem::size_of::<usize>()
}

/// SIGABRT on Linux (and every other Unix this runs on); hard-coded to keep
/// the crate free of a libc dev-dependency.
pub const SIGABRT: i32 = 6;

/// Re-runs this test binary in a child process limited to the test named
/// `entry`, with the environment variable `var` set to `case`, and returns
/// what the child did. The entry test performs the case when `var` is set
/// and does nothing otherwise.
pub fn run_child(entry: &str, var: &str, case: &str) -> std::process::Output {
    let exe = std::env::current_exe().expect("current_exe");
    std::process::Command::new(exe)
        .args([entry, "--exact", "--nocapture", "--test-threads=1"])
        .env(var, case)
        .output()
        .expect("run the child test")
}

/// Asserts that the child of `case` died of SIGABRT after writing the
/// platform's `dlmalloc: <msg> (<file>:<line>)` line, and that `<msg>`
/// contains `needle` (ASCII case ignored). Returns the message.
#[track_caller]
pub fn assert_aborted_with(case: &str, out: &std::process::Output, needle: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Printed so the exact messages can be reviewed (run with --nocapture).
    eprintln!("case {case}: child {:?}, stderr:\n{stderr}", out.status);
    assert_eq!(
        out.status.signal(),
        Some(SIGABRT),
        "case {case}: the child was not killed by SIGABRT but ended with {:?}\nstdout:\n{}\n\
         stderr:\n{stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with("dlmalloc: "))
        .unwrap_or_else(|| panic!("case {case}: stderr lacks a `dlmalloc: ` line:\n{stderr}"));
    let message = line["dlmalloc: ".len()..]
        .rsplit_once(" (")
        .map(|(message, _)| message)
        .unwrap_or_else(|| panic!("case {case}: no ` (<file>:<line>)` in {line:?}"));
    assert!(
        message
            .to_ascii_lowercase()
            .contains(&needle.to_ascii_lowercase()),
        "case {case}: the abort message does not contain {needle:?}: {line}"
    );
    message.to_string()
}

/// What one `mspace_inspect_all` walk saw: at most `ranges.capacity()`
/// (start, end, used_bytes) triples, plus the number of visits. The handler
/// runs with the heap lock held; it only writes into memory reserved
/// before the walk.
struct Visits {
    ranges: Vec<(usize, usize, usize)>,
    count: usize,
}

unsafe extern "C" fn visit(start: *mut c_void, end: *mut c_void, used: usize, arg: *mut c_void) {
    // SAFETY: `arg` is the `Visits` that `collect_ranges` passes, alive for
    // the whole walk and not otherwise accessed.
    let visits = unsafe { &mut *arg.cast::<Visits>() };
    if visits.ranges.len() < visits.ranges.capacity() {
        // Within the capacity: push does not allocate.
        visits.ranges.push((start as usize, end as usize, used));
    }
    visits.count += 1;
}

/// Every chunk one inspect walk (`walk(handler, arg)`, a call of
/// `dlmalloc_inspect_all` or `mspace_inspect_all`) reports, as sorted
/// (start, end, used_bytes) triples. Panics unless every range is non-empty,
/// in-use ranges are exactly `used_bytes` long, and no two ranges overlap.
/// The heap must not change during the call.
fn collect_ranges(
    walk: impl Fn(Option<InspectHandler>, *mut c_void),
) -> Vec<(usize, usize, usize)> {
    // A counting walk first, so the collecting walk never needs to grow
    // its buffer while the heap lock is held.
    let mut visits = Visits {
        ranges: Vec::new(),
        count: 0,
    };
    walk(Some(visit), (&raw mut visits).cast());
    let expected = visits.count;
    visits = Visits {
        ranges: Vec::with_capacity(expected),
        count: 0,
    };
    walk(Some(visit), (&raw mut visits).cast());
    assert_eq!(
        visits.count, expected,
        "two walks of an unchanged heap differ"
    );
    let mut ranges = visits.ranges;
    ranges.sort_unstable();
    for &(start, end, used) in &ranges {
        assert!(start < end, "inspect_all visited {start:#x}..{end:#x}");
        assert!(
            used == 0 || end - start == used,
            "inspect_all: in-use range {start:#x}..{end:#x} but used_bytes {used}"
        );
    }
    for pair in ranges.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "inspect_all visited overlapping ranges: {pair:x?}"
        );
    }
    ranges
}

/// Every chunk of the global heap, as [`collect_ranges`] describes. No other
/// thread may use the global heap during the call.
pub fn heap_ranges() -> Vec<(usize, usize, usize)> {
    // SAFETY: `visit` matches the handler contract and the record it fills
    // outlives the walk.
    collect_ranges(|handler, arg| unsafe { dlmalloc_inspect_all(handler, arg) })
}

/// Every chunk of mspace `msp`, as [`collect_ranges`] describes.
///
/// # Safety
///
/// `msp` must be a live mspace handle that no other thread changes during
/// the call; anything else is undefined behavior.
pub unsafe fn mspace_ranges(msp: Mspace) -> Vec<(usize, usize, usize)> {
    // SAFETY: the caller guarantees a live handle; `visit` matches the
    // handler contract and the record it fills outlives the walk.
    collect_ranges(|handler, arg| unsafe { mspace_inspect_all(msp, handler, arg) })
}
