//! `custom_abort` writes one line to stderr and kills the process with
//! `SIGABRT`. Each case re-runs this test binary as a child that calls
//! `custom_abort`, and the parent inspects how the child died.

use std::env;
use std::ffi::{CStr, CString};
use std::process::Output;

use dlmalloc_platform_std::custom_abort;
use dlmalloc_test_support::{assert_aborted, run_child};

/// Set in the child's environment: tells the test to abort instead of
/// spawning.
const CHILD: &str = "DLMALLOC_PLATFORM_STD_ABORT_CHILD";

/// In the child (when [`CHILD`] is set), aborts with the given report. In the
/// parent, runs `test_name` alone in a child process and returns its output,
/// after checking that it died by `SIGABRT`.
fn abort_in_child(test_name: &str, msg: &CStr, file: Option<&CStr>, line: u32) -> Output {
    if env::var_os(CHILD).is_some() {
        let file = file.map_or(std::ptr::null(), CStr::as_ptr);
        // SAFETY: both are null or NUL-terminated strings.
        unsafe { custom_abort(msg.as_ptr(), file, line) };
    }
    let output = run_child(test_name, CHILD, "1");
    assert_aborted(test_name, &output);
    output
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn abort_reports_message_file_and_line() {
    let output = abort_in_child(
        "abort_reports_message_file_and_line",
        c"free of a chunk not in use",
        Some(c"dl_free.c"),
        4242,
    );
    let lines = stderr_lines(&output);
    assert!(
        lines.contains(&"dlmalloc: free of a chunk not in use (dl_free.c:4242)".to_owned()),
        "stderr: {lines:?}"
    );
}

#[test]
fn abort_prints_line_numbers_in_full() {
    let output = abort_in_child(
        "abort_prints_line_numbers_in_full",
        c"bad",
        Some(c"x.c"),
        u32::MAX,
    );
    let lines = stderr_lines(&output);
    assert!(
        lines.contains(&"dlmalloc: bad (x.c:4294967295)".to_owned()),
        "stderr: {lines:?}"
    );
}

#[test]
fn abort_handles_a_null_file() {
    let output = abort_in_child("abort_handles_a_null_file", c"corrupted top", None, 7);
    let lines = stderr_lines(&output);
    assert!(
        lines.contains(&"dlmalloc: corrupted top (?:7)".to_owned()),
        "stderr: {lines:?}"
    );
}

#[test]
fn abort_cuts_a_huge_message_but_ends_the_line() {
    let huge = CString::new("0123456789".repeat(100)).expect("no NUL inside");
    let output = abort_in_child(
        "abort_cuts_a_huge_message_but_ends_the_line",
        &huge,
        Some(c"f.c"),
        1,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report = stderr
        .lines()
        .find(|line| line.starts_with("dlmalloc: 0123"))
        .unwrap_or_else(|| panic!("no report in stderr: {stderr}"));
    assert_eq!(
        report.len(),
        510,
        "the report fills the 512-byte line but the two bytes kept for its end"
    );
    assert!(stderr.contains(&format!("{report}\n")));
}
