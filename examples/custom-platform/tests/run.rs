//! Runs the example program and checks what it reports: every check passed,
//! the usage log shows mappings coming and going, the pool's count of bytes
//! in use equals the heap's footprint, and a double free ends in
//! `custom_abort`.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Output};

const PROGRAM: &str = env!("CARGO_BIN_EXE_custom-platform-example");

/// Runs the program with `args`; core dumps are disabled for the child.
fn run(args: &[&str]) -> Output {
    let mut command = Command::new(PROGRAM);
    command.args(args);
    // SAFETY: setrlimit is async-signal-safe and touches no parent state; it
    // keeps an expected SIGABRT from writing a core file.
    unsafe {
        command.pre_exec(|| {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    command.output().expect("the example program starts")
}

/// Runs the program normally, asserts that it succeeded, returns stdout.
fn run_workload() -> String {
    let output = run(&[]);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the example failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
}

/// The first line starting with `prefix`.
fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{stdout}"))
}

/// The number right after `label` in `text`.
fn number_after(text: &str, label: &str) -> usize {
    let start = text
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {text:?}"))
        + label.len();
    let digits: String = text[start..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in {text:?}"))
}

#[test]
fn all_checks_pass_and_every_section_is_reported() {
    let stdout = run_workload();
    for prefix in [
        "custom platform: a pool of 8388608 bytes",
        "large block:",
        "exhaustion:",
        "collections:",
        "threads:",
        "trim:",
        "usage log: last",
        "pages:",
        "lock:",
        "heap statistics:",
        "system bytes",
        "heap check: ok",
        "all checks passed",
    ] {
        line(&stdout, prefix);
    }
}

#[test]
fn the_large_block_is_mapped_and_unmapped_on_its_own() {
    let stdout = run_workload();
    let large = line(&stdout, "large block:");
    assert!(
        large.ends_with("freeing it unmapped the mapping"),
        "{large}"
    );
    // 1 MiB plus the mapping's header and tail, rounded to 16 KiB pages:
    // the lengths are whole pool pages, so custom_page_size was linked.
    assert!(large.contains("(1064960 bytes)"), "{large}");
}

#[test]
fn the_usage_log_shows_maps_unmaps_and_exhaustion() {
    let stdout = run_workload();
    let events: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .collect();
    assert!(!events.is_empty(), "no events printed:\n{stdout}");
    for kind in [" map ", " unmap ", " map-exhausted "] {
        assert!(
            events.iter().any(|e| e.contains(kind)),
            "no{kind}event in:\n{stdout}"
        );
    }
    assert!(
        !events.iter().any(|e| e.contains("refused")),
        "the core broke the contract:\n{stdout}"
    );
}

#[test]
fn the_pool_and_the_heap_agree_on_memory_in_use() {
    let stdout = run_workload();
    let pages = line(&stdout, "pages:");
    let pool_bytes = number_after(pages, "in use (");
    let footprint = number_after(line(&stdout, "system bytes"), "=");
    assert_eq!(pool_bytes, footprint, "{pages}");
    assert!(pages.ends_with(" 0 refused"), "{pages}");
    let trim = line(&stdout, "trim:");
    let freed = number_after(trim, "with 1500 blocks,");
    let trimmed = number_after(trim, "after freeing them,");
    assert!(trimmed < freed, "{trim}");
}

#[test]
fn the_lock_hooks_were_used() {
    let stdout = run_workload();
    let lock = line(&stdout, "lock:");
    // "lock: <n> acquisitions, <n> contended, <n> locks initialised, ..."
    assert!(number_after(lock, "lock:") > 0, "{lock}");
    let initialised = number_after(lock, "contended,");
    assert!(initialised >= 1, "init_lock never ran: {lock}");
}

#[test]
fn a_double_free_ends_in_custom_abort() {
    let output = run(&["--double-free"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGABRT),
        "expected death by SIGABRT, got {:?}; stderr:\n{stderr}",
        output.status
    );
    let report = stderr
        .lines()
        .find(|l| l.starts_with("custom-platform: heap error: "))
        .unwrap_or_else(|| panic!("no report line in stderr:\n{stderr}"));
    assert!(report.contains(".c:") && report.ends_with(')'), "{report}");
}
