//! Memory footprint, measured in a child process per allocator and
//! workload so that no other allocator's pages count: the bench binary
//! re-executes itself with `rss ALLOCATOR WORKLOAD`, the child runs the
//! workload and prints its numbers on one line, read from
//! `/proc/self/status` (VmRSS now, VmHWM = peak resident set).

use core::alloc::GlobalAlloc;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::table::Table;
use crate::workloads::Scale;

/// A footprint workload: churn a table of live blocks, then free them all.
#[derive(Clone, Copy, Debug)]
pub struct RssWorkload {
    /// Its name in the report and on the command line.
    pub name: &'static str,
    lo: usize,
    hi: usize,
    live: usize,
    steps: usize,
}

/// Every footprint workload.
pub const ALL: &[RssWorkload] = &[
    RssWorkload {
        name: "rss-16-1k-live100k",
        lo: 16,
        hi: 1024,
        live: 100_000,
        steps: 300_000,
    },
    RssWorkload {
        name: "rss-1k-64k-live2k",
        lo: 1024,
        hi: 65536,
        live: 2_000,
        steps: 50_000,
    },
];

/// What a child measured, in bytes above the resident set it had before
/// the workload started.
#[derive(Clone, Copy, Debug)]
pub struct Footprint {
    /// The most bytes live at once (as asked).
    pub peak_live: usize,
    /// Peak resident set growth.
    pub peak_rss: usize,
    /// Resident set growth left after every block was freed; `None` when
    /// freeing took so long that the child gave up (see
    /// [`Table::clear_until`]).
    pub retained: Option<usize>,
    /// Whether the churn stopped at its deadline before all its steps.
    pub capped: bool,
}

/// How long a child may churn, and then free, before it stops: allocators
/// that walk lists of free blocks need minutes for the 100k-live workload.
const CHILD_BUDGET: Duration = Duration::from_secs(6);

/// Reads a `Vm*:` line of /proc/self/status, in bytes.
fn status_bytes(key: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/self/status"));
    let kib: usize = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("a number of kB");
    kib * 1024
}

/// The child's side: runs `workload` on `alloc` and prints its footprint
/// as `peak_live,peak_rss,retained,capped` (retained -1: not freed in time).
pub fn child(alloc: &dyn GlobalAlloc, name: &str, workload: &RssWorkload, scale: Scale) {
    let what = format!("{name} / {}", workload.name);
    let live = if scale == Scale::Quick {
        workload.live.min(2000)
    } else {
        workload.live
    };
    let mut table = Table::new(alloc, live, &what);
    table.fill = true;
    let mut rng = Rng::new(0x7e55);
    let baseline = status_bytes("VmRSS:");
    for i in 0..live {
        table.alloc(i, rng.size(workload.lo, workload.hi));
    }
    let mut peak_live = table.live_bytes;
    let deadline = Instant::now() + CHILD_BUDGET;
    let steps = scale.steps(workload.steps);
    let mut capped = false;
    for step in 0..steps {
        if step % 1024 == 0 && Instant::now() > deadline {
            capped = true;
            break;
        }
        let i = rng.below(live);
        table.free(i);
        table.alloc(i, rng.size(workload.lo, workload.hi));
        peak_live = peak_live.max(table.live_bytes);
    }
    let peak_rss = status_bytes("VmHWM:").saturating_sub(baseline);
    let retained = if table.clear_until(Instant::now() + CHILD_BUDGET) {
        status_bytes("VmRSS:").saturating_sub(baseline) as i64
    } else {
        -1
    };
    println!("{peak_live},{peak_rss},{retained},{capped}");
}

/// The parent's side: runs the child for `allocator` and `workload` and
/// reads its line.
///
/// # Panics
///
/// If the child fails (a verification failure in it is a failure here).
pub fn measure(allocator: &str, workload: &RssWorkload, scale: Scale) -> Footprint {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let mut command = Command::new(exe);
    command.args(["rss", allocator, workload.name]);
    if scale == Scale::Quick {
        command.arg("--quick");
    }
    let output = command.output().expect("cannot start the footprint child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "footprint child {allocator} / {} failed ({}): {}{}",
        workload.name,
        output.status,
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let fields: Vec<&str> = stdout.trim().split(',').collect();
    assert_eq!(fields.len(), 4, "footprint child printed {stdout:?}");
    let number = |field: &str| -> i64 { field.parse().expect("a number from the footprint child") };
    Footprint {
        peak_live: number(fields[0]) as usize,
        peak_rss: number(fields[1]) as usize,
        retained: usize::try_from(number(fields[2])).ok(),
        capped: fields[3] == "true",
    }
}
