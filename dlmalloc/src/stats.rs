//! Heap statistics: a plain snapshot struct and its classic text report.

use core::fmt;

use crate::raw::MallInfo;

/// A snapshot of a heap's statistics.
///
/// `Display` prints the classic `malloc_stats` report:
///
/// ```text
/// max system bytes =    4194304
/// system bytes     =    2097152
/// in use bytes     =     123456
/// ...
/// ```
///
/// All sizes are in bytes. The values are read one after another, so while
/// other threads allocate they may disagree with each other slightly.
///
/// ```
/// use dlmalloc::DLMalloc;
/// use dlmalloc_platform_std as _;
///
/// let stats = DLMalloc.stats();
/// assert!(stats.max_footprint >= stats.footprint);
/// println!("{stats}");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Bytes currently obtained from the system (segments and directly
    /// mapped chunks): the classic "system bytes".
    pub footprint: usize,
    /// The largest `footprint` ever reached: "max system bytes".
    pub max_footprint: usize,
    /// The footprint limit in force, `None` when there is none.
    pub footprint_limit: Option<usize>,
    /// Bytes in segments, that is the footprint without directly mapped
    /// chunks (mallinfo `arena`).
    pub arena_bytes: usize,
    /// Bytes in use by allocated chunks, headers included: the footprint
    /// minus the free bytes (mallinfo `uordblks`).
    pub in_use_bytes: usize,
    /// Free bytes inside the footprint (mallinfo `fordblks`).
    pub free_bytes: usize,
    /// Number of free chunks, the top chunk included (mallinfo `ordblks`).
    pub free_chunks: usize,
    /// Number of chunks with a mapping of their own (mallinfo `hblks`).
    pub mmapped_chunks: usize,
    /// Bytes in those directly mapped chunks (mallinfo `hblkhd`).
    pub mmapped_bytes: usize,
    /// Size of the top chunk, the most a trim can release (mallinfo
    /// `keepcost`).
    pub top_bytes: usize,
}

impl Stats {
    /// The statistics of a heap that does not exist yet: no memory, no limit.
    pub(crate) const EMPTY: Stats = Stats {
        footprint: 0,
        max_footprint: 0,
        footprint_limit: None,
        arena_bytes: 0,
        in_use_bytes: 0,
        free_bytes: 0,
        free_chunks: 0,
        mmapped_chunks: 0,
        mmapped_bytes: 0,
        top_bytes: 0,
    };

    /// Builds a snapshot from the raw values the core reports for one heap
    /// (the global heap or an mspace). A `footprint_limit` of `usize::MAX`
    /// means "no limit".
    pub(crate) fn from_raw(
        footprint: usize,
        max_footprint: usize,
        footprint_limit: usize,
        info: MallInfo,
    ) -> Stats {
        Stats {
            footprint,
            max_footprint,
            footprint_limit: limit_from_raw(footprint_limit),
            arena_bytes: info.arena,
            in_use_bytes: info.uordblks,
            free_bytes: info.fordblks,
            free_chunks: info.ordblks,
            mmapped_chunks: info.hblks,
            mmapped_bytes: info.hblkhd,
            top_bytes: info.keepcost,
        }
    }
}

/// Converts the core's footprint limit (`usize::MAX` for none) to an Option.
pub(crate) fn limit_from_raw(limit: usize) -> Option<usize> {
    (limit != usize::MAX).then_some(limit)
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "max system bytes = {:>10}", self.max_footprint)?;
        writeln!(f, "system bytes     = {:>10}", self.footprint)?;
        writeln!(f, "in use bytes     = {:>10}", self.in_use_bytes)?;
        writeln!(f, "free bytes       = {:>10}", self.free_bytes)?;
        writeln!(f, "free chunks      = {:>10}", self.free_chunks)?;
        writeln!(f, "top bytes        = {:>10}", self.top_bytes)?;
        writeln!(f, "mmapped chunks   = {:>10}", self.mmapped_chunks)?;
        writeln!(f, "mmapped bytes    = {:>10}", self.mmapped_bytes)?;
        match self.footprint_limit {
            Some(limit) => write!(f, "footprint limit  = {limit:>10}"),
            None => write!(f, "footprint limit  = {:>10}", "none"),
        }
    }
}
