//! The address ranges the platform has mapped for the core and not yet
//! given back: a fixed, sorted table of disjoint runs.
//!
//! It lets `custom_munmap` check the core's side of the contract: every
//! range the core gives back must be memory it got from `custom_mmap` and
//! still holds. Adjacent runs are merged, because the core may give back a
//! run of neighbouring mappings in one call (it merges them into one
//! segment), or the tail of one. The table has a fixed capacity and never
//! allocates: it is used inside hooks that run with a heap lock held.

/// Most disjoint runs the table holds; the tests stay far below it (a few
/// dozen mappings at once).
pub(crate) const CAPACITY: usize = 4096;

/// A half-open address range `[start, end)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Run {
    start: usize,
    end: usize,
}

/// Disjoint, non-adjacent runs sorted by address.
pub(crate) struct Ranges {
    runs: [Run; CAPACITY],
    len: usize,
}

/// The table has no room for another run.
#[derive(Debug)]
pub(crate) struct Full;

impl Ranges {
    /// An empty table.
    pub(crate) const fn new() -> Self {
        Ranges {
            runs: [Run { start: 0, end: 0 }; CAPACITY],
            len: 0,
        }
    }

    /// The runs in use.
    fn live(&self) -> &[Run] {
        &self.runs[..self.len]
    }

    /// Index of the first run that ends at or after `addr`.
    fn first_ending_at_or_after(&self, addr: usize) -> usize {
        self.live().partition_point(|run| run.end < addr)
    }

    /// True when all of `[start, end)` is mapped (one merged run holds it).
    pub(crate) fn covers(&self, start: usize, end: usize) -> bool {
        let i = self.first_ending_at_or_after(end);
        i < self.len && self.runs[i].start <= start && end <= self.runs[i].end
    }

    /// True when some byte of `[start, end)` is mapped.
    pub(crate) fn overlaps(&self, start: usize, end: usize) -> bool {
        let i = self.live().partition_point(|run| run.end <= start);
        i < self.len && self.runs[i].start < end
    }

    /// Records `[start, end)` as mapped. The range must not overlap a run
    /// (the system never hands out mapped memory twice).
    pub(crate) fn insert(&mut self, start: usize, end: usize) -> Result<(), Full> {
        let i = self.first_ending_at_or_after(start);
        let joins_left = i < self.len && self.runs[i].end == start;
        let right = if joins_left { i + 1 } else { i };
        let joins_right = right < self.len && self.runs[right].start == end;
        match (joins_left, joins_right) {
            (true, true) => {
                self.runs[i].end = self.runs[right].end;
                self.remove_at(right);
            }
            (true, false) => self.runs[i].end = end,
            (false, true) => self.runs[right].start = start,
            (false, false) => self.insert_at(i, Run { start, end })?,
        }
        Ok(())
    }

    /// Records `[start, end)` as given back. The caller checked
    /// [`covers`](Self::covers) first.
    pub(crate) fn remove(&mut self, start: usize, end: usize) -> Result<(), Full> {
        let i = self.first_ending_at_or_after(end);
        debug_assert!(i < self.len && self.runs[i].start <= start && end <= self.runs[i].end);
        let run = self.runs[i];
        match (run.start == start, run.end == end) {
            (true, true) => self.remove_at(i),
            (true, false) => self.runs[i].start = end,
            (false, true) => self.runs[i].end = start,
            (false, false) => {
                self.runs[i].end = start;
                self.insert_at(
                    i + 1,
                    Run {
                        start: end,
                        end: run.end,
                    },
                )?;
            }
        }
        Ok(())
    }

    fn insert_at(&mut self, i: usize, run: Run) -> Result<(), Full> {
        if self.len == CAPACITY {
            return Err(Full);
        }
        self.runs.copy_within(i..self.len, i + 1);
        self.runs[i] = run;
        self.len += 1;
        Ok(())
    }

    fn remove_at(&mut self, i: usize) {
        self.runs.copy_within(i + 1..self.len, i);
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::Ranges;

    #[test]
    fn adjacent_runs_merge_and_split_again() {
        let mut r = Ranges::new();
        r.insert(0x3000, 0x4000).unwrap();
        r.insert(0x1000, 0x2000).unwrap();
        assert!(!r.covers(0x1000, 0x4000));
        r.insert(0x2000, 0x3000).unwrap();
        assert_eq!(r.len, 1, "three neighbours are one run");
        assert!(r.covers(0x1000, 0x4000));
        r.remove(0x2000, 0x3000).unwrap();
        assert_eq!(r.len, 2, "a hole splits the run");
        assert!(r.covers(0x1000, 0x2000) && r.covers(0x3000, 0x4000));
        assert!(!r.covers(0x1000, 0x3000));
        assert!(r.overlaps(0x1fff, 0x2001) && !r.overlaps(0x2000, 0x3000));
        r.remove(0x3800, 0x4000).unwrap();
        assert!(r.covers(0x3000, 0x3800) && !r.overlaps(0x3800, 0x4000));
        r.remove(0x1000, 0x2000).unwrap();
        r.remove(0x3000, 0x3800).unwrap();
        assert_eq!(r.len, 0);
    }
}
