//! The timed workloads. Each one drives an allocator through
//! `&dyn GlobalAlloc`, verifies every block it gets, and returns how many
//! steps it made; the runner divides the elapsed time by that count.
//!
//! A workload stops early (and says so) once it passes its deadline, so an
//! allocator whose cost grows with the number of live blocks cannot hold the
//! whole run hostage; the steps made until then still give its time per
//! step.

use core::alloc::{GlobalAlloc, Layout};
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::stamp;
use crate::table::{ALIGN, Table};
use crate::threaded;

/// How big a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// The real benchmark.
    Full,
    /// CI: every workload once, with small counts, to prove it runs and
    /// verifies.
    Quick,
}

impl Scale {
    /// `full` steps in a full run, a hundredth of it (at least 100) in a
    /// quick one.
    pub fn steps(self, full: usize) -> usize {
        match self {
            Scale::Full => full,
            Scale::Quick => (full / 100).max(100),
        }
    }
}

/// What a workload did.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// Steps made (the unit of the time per step).
    pub steps: u64,
    /// Whether the deadline stopped it before it made all its steps.
    pub capped: bool,
    /// Whether freeing its blocks took so long that the rest were leaked.
    pub leaked: bool,
}

/// One timed workload.
#[derive(Clone, Copy, Debug)]
pub enum Workload {
    /// Allocate one block of this size and free it at once, over and over.
    Pair(usize),
    /// A table of `live` blocks; each step frees a random slot and fills it
    /// with a new block of `lo..=hi` bytes, or (with `realloc`) resizes it
    /// half of the time.
    Churn {
        lo: usize,
        hi: usize,
        live: usize,
        realloc: bool,
    },
    /// A buffer grown by doubling realloc from 16 bytes to 8 MiB, then
    /// freed; repeated.
    VecGrow,
    /// 10 000 byte strings grown one byte at a time, round robin, from 1 to
    /// 100 bytes, so neighbours keep getting in the way of in-place growth.
    Strings,
    /// `n` threads, each churning its own table (16..=1024 bytes, 1000
    /// live): throughput under contention.
    Threads(usize),
    /// One thread allocates and another frees every block: every free is
    /// cross-thread.
    ProducerConsumer,
}

/// Every timed workload, in report order. The 100k-live churns come last:
/// they may leak blocks (see [`Table::clear_until`]), and a leak must not
/// slow the workloads after it.
pub const ALL: &[Workload] = &[
    Workload::Pair(16),
    Workload::Pair(64),
    Workload::Pair(256),
    Workload::Pair(1024),
    Workload::Pair(4096),
    Workload::Churn {
        lo: 16,
        hi: 128,
        live: 1_000,
        realloc: false,
    },
    Workload::Churn {
        lo: 16,
        hi: 1024,
        live: 1_000,
        realloc: false,
    },
    Workload::Churn {
        lo: 1024,
        hi: 65536,
        live: 1_000,
        realloc: false,
    },
    Workload::Churn {
        lo: 16,
        hi: 1024,
        live: 1_000,
        realloc: true,
    },
    Workload::Churn {
        lo: 1024,
        hi: 65536,
        live: 1_000,
        realloc: true,
    },
    Workload::VecGrow,
    Workload::Strings,
    Workload::Threads(2),
    Workload::Threads(4),
    Workload::ProducerConsumer,
    Workload::Churn {
        lo: 16,
        hi: 1024,
        live: 100_000,
        realloc: false,
    },
    Workload::Churn {
        lo: 16,
        hi: 1024,
        live: 100_000,
        realloc: true,
    },
];

/// A short human-readable size: 16, 1k, 64k, 100k.
fn short(n: usize) -> String {
    if n >= 1024 && n % 1024 == 0 && n.is_power_of_two() {
        format!("{}k", n / 1024)
    } else if n >= 1000 && n % 1000 == 0 {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

impl Workload {
    /// The workload's name in the report and on the command line.
    pub fn name(&self) -> String {
        match *self {
            Workload::Pair(size) => format!("pair-{size}"),
            Workload::Churn {
                lo,
                hi,
                live,
                realloc,
            } => format!(
                "{}-{}-{}-live{}",
                if realloc { "realloc" } else { "churn" },
                short(lo),
                short(hi),
                short(live)
            ),
            Workload::VecGrow => "vec-grow-8m".into(),
            Workload::Strings => "strings-10k-grow1".into(),
            Workload::Threads(n) => format!("threads-{n}"),
            Workload::ProducerConsumer => "producer-consumer".into(),
        }
    }

    /// What one step is, for the report.
    pub fn step(&self) -> &'static str {
        match self {
            Workload::Pair(_) => "alloc+free",
            Workload::Churn { realloc: false, .. } => "free+alloc",
            Workload::Churn { realloc: true, .. } => "realloc or free+alloc",
            Workload::VecGrow => "doubling realloc",
            Workload::Strings => "realloc +1 byte",
            Workload::Threads(_) => "free+alloc, all threads (wall time)",
            Workload::ProducerConsumer => "alloc + cross-thread free",
        }
    }

    /// Runs the workload once on `alloc`; `what` names the allocator in
    /// failure messages.
    pub fn run(
        &self,
        alloc: &(dyn GlobalAlloc + Sync),
        scale: Scale,
        deadline: Instant,
        what: &str,
    ) -> Outcome {
        let what = format!("{what} / {}", self.name());
        match *self {
            Workload::Pair(size) => pairs(alloc, size, scale.steps(1_000_000), deadline, &what),
            Workload::Churn {
                lo,
                hi,
                live,
                realloc,
            } => {
                let live = if scale == Scale::Quick {
                    live.min(1000)
                } else {
                    live
                };
                let steps = match (hi > 4096, live > 1000) {
                    (true, _) => 200_000,
                    (false, true) => 300_000,
                    (false, false) => 500_000,
                };
                churn(
                    alloc,
                    lo,
                    hi,
                    live,
                    realloc,
                    scale.steps(steps),
                    deadline,
                    &what,
                )
            }
            Workload::VecGrow => vec_grow(alloc, scale.steps(4_000) / 20, deadline, &what),
            Workload::Strings => {
                let strings = if scale == Scale::Quick { 100 } else { 10_000 };
                grow_strings(alloc, strings, 100, deadline, &what)
            }
            Workload::Threads(n) => {
                threaded::churn(alloc, n, scale.steps(200_000), deadline, &what)
            }
            Workload::ProducerConsumer => {
                threaded::producer_consumer(alloc, scale.steps(300_000), deadline, &what)
            }
        }
    }

    /// Runs a pair or churn workload for exactly `steps` steps, with no
    /// deadline, for counting instructions per step
    /// (`scripts/core_instructions.sh`); `None` for the other workloads.
    pub fn run_steps(
        &self,
        alloc: &(dyn GlobalAlloc + Sync),
        steps: usize,
        what: &str,
    ) -> Option<Outcome> {
        let what = format!("{what} / {}", self.name());
        let no_deadline = Instant::now() + std::time::Duration::from_secs(24 * 3600);
        match *self {
            Workload::Pair(size) => Some(pairs(alloc, size, steps, no_deadline, &what)),
            Workload::Churn {
                lo,
                hi,
                live,
                realloc,
            } => Some(churn(
                alloc,
                lo,
                hi,
                live,
                realloc,
                steps,
                no_deadline,
                &what,
            )),
            _ => None,
        }
    }
}

/// How often (in steps) a loop looks at the clock.
const CLOCK_EVERY: usize = 1024;

fn pairs(
    alloc: &dyn GlobalAlloc,
    size: usize,
    steps: usize,
    deadline: Instant,
    what: &str,
) -> Outcome {
    let layout = Layout::from_size_align(size, ALIGN).unwrap();
    for i in 0..steps {
        if i % CLOCK_EVERY == 0 && i > 0 && Instant::now() > deadline {
            return Outcome {
                steps: i as u64,
                capped: true,
                leaked: false,
            };
        }
        // SAFETY: non-zero size.
        let ptr = unsafe { alloc.alloc(layout) };
        stamp::check_fresh(ptr, layout, what);
        let tag = stamp::tag(i as u64 + 1);
        // SAFETY: a fresh block of `size` >= 16 bytes.
        unsafe {
            stamp::write(ptr, size, tag);
            stamp::check(ptr, size, tag, what);
            alloc.dealloc(ptr, layout);
        }
    }
    Outcome {
        steps: steps as u64,
        capped: false,
        leaked: false,
    }
}

/// The churn loop, also the body of each thread of the threaded workloads.
#[allow(clippy::too_many_arguments)]
pub fn churn(
    alloc: &dyn GlobalAlloc,
    lo: usize,
    hi: usize,
    live: usize,
    realloc: bool,
    steps: usize,
    deadline: Instant,
    what: &str,
) -> Outcome {
    let mut rng = Rng::new(0x5eed ^ (lo as u64) << 32 ^ hi as u64 ^ (live as u64) << 16);
    let mut table = Table::new(alloc, live, what);
    for i in 0..live {
        table.alloc(i, rng.size(lo, hi));
    }
    let mut done = steps;
    for step in 0..steps {
        if step % CLOCK_EVERY == 0 && step > 0 && Instant::now() > deadline {
            done = step;
            break;
        }
        let i = rng.below(live);
        let size = rng.size(lo, hi);
        if realloc && rng.chance(50) {
            table.realloc(i, size);
        } else {
            table.free(i);
            table.alloc(i, size);
        }
    }
    let freed = table.clear_until(deadline + DRAIN_GRACE);
    Outcome {
        steps: done as u64,
        capped: done < steps,
        leaked: !freed,
    }
}

/// How long past its deadline a churn may spend freeing its blocks.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

fn vec_grow(alloc: &dyn GlobalAlloc, repeats: usize, deadline: Instant, what: &str) -> Outcome {
    const MAX: usize = 8 << 20;
    let mut steps = 0u64;
    for r in 0..repeats {
        if r > 0 && Instant::now() > deadline {
            return Outcome {
                steps,
                capped: true,
                leaked: false,
            };
        }
        let tag = stamp::tag(r as u64 + 1);
        let mut size = 16;
        let mut layout = Layout::from_size_align(size, ALIGN).unwrap();
        // SAFETY: non-zero size.
        let mut ptr = unsafe { alloc.alloc(layout) };
        stamp::check_fresh(ptr, layout, what);
        // SAFETY: a fresh block of 16 bytes.
        unsafe { stamp::write(ptr, size, tag) };
        while size < MAX {
            let new = size * 2;
            // SAFETY: a live block of this allocator with `layout`.
            ptr = unsafe { alloc.realloc(ptr, layout, new) };
            layout = Layout::from_size_align(new, ALIGN).unwrap();
            stamp::check_fresh(ptr, layout, what);
            // SAFETY: the old `size` bytes were kept; the block has `new`.
            unsafe {
                stamp::check(ptr, size, tag, what);
                stamp::write(ptr, new, tag);
            }
            size = new;
            steps += 1;
        }
        // SAFETY: a live block of this allocator with `layout`.
        unsafe {
            stamp::check(ptr, size, tag, what);
            alloc.dealloc(ptr, layout);
        }
    }
    Outcome {
        steps,
        capped: false,
        leaked: false,
    }
}

/// The byte that string `s` holds at offset `i`.
fn string_byte(s: usize, i: usize) -> u8 {
    (s.wrapping_mul(31) + i) as u8
}

fn grow_strings(
    alloc: &dyn GlobalAlloc,
    count: usize,
    max_len: usize,
    deadline: Instant,
    what: &str,
) -> Outcome {
    let mut strings: Vec<*mut u8> = Vec::with_capacity(count);
    for s in 0..count {
        let layout = Layout::from_size_align(1, 1).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { alloc.alloc(layout) };
        stamp::check_fresh(ptr, layout, what);
        // SAFETY: one writable byte.
        unsafe { ptr.write(string_byte(s, 0)) };
        strings.push(ptr);
    }
    let mut steps = 0u64;
    let mut len = 1;
    let mut capped = false;
    while len < max_len {
        if Instant::now() > deadline {
            capped = true;
            break;
        }
        for (s, ptr) in strings.iter_mut().enumerate() {
            let old = Layout::from_size_align(len, 1).unwrap();
            // SAFETY: a live block of this allocator with `old`.
            let new = unsafe { alloc.realloc(*ptr, old, len + 1) };
            stamp::check_fresh(new, Layout::from_size_align(len + 1, 1).unwrap(), what);
            // SAFETY: the block holds `len + 1` bytes, the first `len` kept.
            unsafe {
                assert!(
                    *new == string_byte(s, 0) && *new.add(len - 1) == string_byte(s, len - 1),
                    "{what}: realloc lost the contents of string {s}"
                );
                new.add(len).write(string_byte(s, len));
            }
            *ptr = new;
            steps += 1;
        }
        len += 1;
    }
    for (s, &ptr) in strings.iter().enumerate() {
        for i in 0..len {
            // SAFETY: the block holds `len` bytes.
            let byte = unsafe { *ptr.add(i) };
            assert!(
                byte == string_byte(s, i),
                "{what}: string {s} byte {i} was overwritten"
            );
        }
        // SAFETY: a live block of this allocator with this layout.
        unsafe { alloc.dealloc(ptr, Layout::from_size_align(len, 1).unwrap()) };
    }
    Outcome {
        steps,
        capped,
        leaked: false,
    }
}
