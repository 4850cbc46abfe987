//! The core's heap checker and heap walk, turned into lists a test can
//! assert on. The callbacks run with the heap's lock held, so they only
//! write into memory reserved before the call.

use core::ffi::{CStr, c_char, c_void};

use dlmalloc_sys::{MallInfo, Mspace};

use crate::Heap;

/// Violations kept word for word; more are counted.
const KEPT: usize = 32;

/// What one heap check saw: the number of violations and the first few
/// (`what` text, address) pairs.
struct Report {
    count: usize,
    first: [(*const c_char, usize); KEPT],
}

unsafe extern "C" fn record(what: *const c_char, at: *const c_void, arg: *mut c_void) {
    // SAFETY: `arg` is the `&mut Report` that `Heap::violations` passes,
    // alive for the whole check and not otherwise accessed.
    let report = unsafe { &mut *arg.cast::<Report>() };
    if report.count < KEPT {
        report.first[report.count] = (what, at as usize);
    }
    report.count += 1;
}

/// What one inspect walk saw: at most `ranges.capacity()` (start, end,
/// used bytes) triples, and the number of visits.
struct Visits {
    ranges: Vec<(usize, usize, usize)>,
    count: usize,
}

unsafe extern "C" fn visit(start: *mut c_void, end: *mut c_void, used: usize, arg: *mut c_void) {
    // SAFETY: `arg` is the `Visits` that `Heap::walk` passes, alive for the
    // whole walk and not otherwise accessed.
    let visits = unsafe { &mut *arg.cast::<Visits>() };
    if visits.ranges.len() < visits.ranges.capacity() {
        // Within the capacity: push does not allocate.
        visits.ranges.push((start as usize, end as usize, used));
    }
    visits.count += 1;
}

impl Heap {
    /// Runs the heap check and returns one line per violation (empty when
    /// the heap is sound). Also checks that the returned count equals the
    /// number of reports.
    pub fn violations(self) -> Vec<String> {
        let mut report = Report {
            count: 0,
            first: [(core::ptr::null(), 0); KEPT],
        };
        // SAFETY: `record` matches the callback contract, never allocates,
        // and the report it fills outlives the call.
        let returned = unsafe { self.check(Some(record), (&raw mut report).cast()) };
        let mut lines = Vec::new();
        for &(what, at) in report.first.iter().take(report.count) {
            let text = if what.is_null() {
                "<null description>".to_string()
            } else {
                // SAFETY: the header promises static NUL-terminated text.
                unsafe { CStr::from_ptr(what) }
                    .to_string_lossy()
                    .into_owned()
            };
            lines.push(format!("{text} at {at:#x}"));
        }
        if report.count > KEPT {
            lines.push(format!("... {} more", report.count - KEPT));
        }
        assert_eq!(
            returned, report.count,
            "the heap check returned {returned} but reported {} violations: {lines:?}",
            report.count
        );
        lines
    }

    /// Panics, naming `context` and listing the violations, unless the heap
    /// checks clean.
    #[track_caller]
    pub fn assert_ok(self, context: &str) {
        let lines = self.violations();
        assert!(
            lines.is_empty(),
            "{context}: the {} check found {} violation(s):\n  {}",
            self.name(),
            lines.len(),
            lines.join("\n  ")
        );
    }

    /// Reads mallinfo and panics, naming `context`, unless the relations
    /// within one snapshot hold (they do whatever other threads do): bytes
    /// in use plus free bytes are the segments' bytes plus the mapped
    /// chunks', the maximum footprint is at least that, the top's
    /// releasable bytes (keepcost) lie within the free bytes, the mapped
    /// chunks' count and bytes are zero together, and the unused fields
    /// `smblks` and `fsmblks` are 0. Returns the snapshot.
    #[track_caller]
    pub fn assert_mallinfo(self, context: &str) -> MallInfo {
        let mi = self.mallinfo();
        let held = mi.arena + mi.hblkhd;
        assert_eq!(
            mi.uordblks + mi.fordblks,
            held,
            "{context}: uordblks + fordblks != arena + hblkhd in {mi:?}"
        );
        assert!(
            mi.usmblks >= held,
            "{context}: maximum footprint below the footprint in {mi:?}"
        );
        assert!(
            mi.keepcost <= mi.fordblks,
            "{context}: keepcost > fordblks in {mi:?}"
        );
        assert_eq!(
            mi.hblks == 0,
            mi.hblkhd == 0,
            "{context}: hblks and hblkhd disagree in {mi:?}"
        );
        assert!(
            mi.hblks <= mi.hblkhd,
            "{context}: more mapped chunks than bytes in {mi:?}"
        );
        assert_eq!(
            (mi.smblks, mi.fsmblks),
            (0, 0),
            "{context}: smblks and fsmblks are always 0: {mi:?}"
        );
        mi
    }

    /// [`Heap::assert_mallinfo`], and the snapshot agrees exactly with the
    /// heap's other readers: the segments' bytes plus the mapped chunks'
    /// are the footprint, and `usmblks` is the maximum footprint. For a
    /// heap no other thread changes meanwhile.
    #[track_caller]
    pub fn assert_mallinfo_exact(self, context: &str) -> MallInfo {
        let mi = self.assert_mallinfo(context);
        let footprint = self.footprint();
        assert_eq!(
            mi.arena + mi.hblkhd,
            footprint,
            "{context}: arena + hblkhd != footprint {footprint} in {mi:?}"
        );
        let max = self.max_footprint();
        assert_eq!(
            mi.usmblks, max,
            "{context}: usmblks != maximum footprint {max} in {mi:?}"
        );
        mi
    }

    /// One inspect walk with room for `capacity` ranges; returns the ranges
    /// kept and the number of chunks visited.
    fn walk(self, capacity: usize) -> (Vec<(usize, usize, usize)>, usize) {
        let mut visits = Visits {
            ranges: Vec::with_capacity(capacity),
            count: 0,
        };
        // SAFETY: `visit` matches the handler contract, never allocates,
        // and the record it fills outlives the walk.
        unsafe { self.inspect_all(Some(visit), (&raw mut visits).cast()) };
        (visits.ranges, visits.count)
    }

    /// Every chunk the inspect walk reports, as sorted (start, end,
    /// used bytes) triples. Panics unless every range is non-empty, in-use
    /// ranges are exactly `used` long, and no two ranges overlap. No other
    /// thread may change the heap during the call.
    pub fn ranges(self) -> Vec<(usize, usize, usize)> {
        // A counting walk first, so the collecting walk never needs to grow
        // its buffer while the heap lock is held.
        let (_, expected) = self.walk(0);
        let (mut ranges, count) = self.walk(expected);
        assert_eq!(count, expected, "two walks of an unchanged heap differ");
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

    /// The in-use chunks of one inspect walk as sorted (start, used bytes)
    /// pairs, at most `capacity` of them; `None` when there were more. Other
    /// threads may use the heap meanwhile (the walk holds its lock).
    pub fn in_use(self, capacity: usize) -> Option<Vec<(usize, usize)>> {
        // Free chunks are visited too: room for as many again.
        let (ranges, count) = self.walk(2 * capacity + 16);
        if count > ranges.len() {
            return None;
        }
        let mut in_use: Vec<(usize, usize)> = ranges
            .into_iter()
            .filter(|&(_, _, used)| used > 0)
            .map(|(start, end, used)| {
                assert_eq!(
                    end - start,
                    used,
                    "inspect_all: an in-use range that is not its used bytes"
                );
                (start, used)
            })
            .collect();
        if in_use.len() > capacity {
            return None;
        }
        in_use.sort_unstable();
        Some(in_use)
    }
}

/// Runs `dlmalloc_check` on the global heap; see [`Heap::violations`].
pub fn heap_violations() -> Vec<String> {
    Heap::GLOBAL.violations()
}

/// Runs `mspace_check` on `msp`; see [`Heap::violations`].
///
/// # Safety
///
/// `msp` must be a live mspace handle (created and not destroyed); anything
/// else is undefined behavior.
pub unsafe fn mspace_violations(msp: Mspace) -> Vec<String> {
    // SAFETY: the caller guarantees a live handle, used only for the call.
    unsafe { Heap::mspace(msp) }.violations()
}

/// Panics, naming `context` and listing the violations, unless the global
/// heap checks clean.
#[track_caller]
pub fn assert_heap_ok(context: &str) {
    Heap::GLOBAL.assert_ok(context);
}

/// Panics, naming `context` and listing the violations, unless mspace
/// `msp` checks clean.
///
/// # Safety
///
/// As for [`mspace_violations`].
#[track_caller]
pub unsafe fn assert_mspace_ok(msp: Mspace, context: &str) {
    // SAFETY: forwarded from the caller.
    unsafe { Heap::mspace(msp) }.assert_ok(context);
}
