//! A double free ends in the platform's abort hook: the core's message on
//! stderr (`dlmalloc: free(): double free ...`) and exit code 3, with no
//! unwinding and no DLL detach code running. The test re-runs itself as a
//! child process that does the double free of
//! `testing/platform-behaviour/double_free.rs`.

use std::env;
use std::process::Command;

use dlmalloc_platform_windows::ABORT_EXIT_CODE;

#[path = "../../testing/platform-behaviour/double_free.rs"]
mod shared;

/// Set in the child's environment: the child does the double free.
const CHILD: &str = "DLMALLOC_WINDOWS_DOUBLE_FREE_CHILD";

#[test]
fn a_double_free_ends_in_the_abort_hook() {
    if env::var_os(CHILD).is_some() {
        shared::double_free();
        return;
    }
    let output = Command::new(env::current_exe().unwrap())
        .args([
            "--exact",
            "a_double_free_ends_in_the_abort_hook",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(ABORT_EXIT_CODE as i32),
        "child stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("freeing the block a second time"),
        "{stderr}"
    );
    assert!(
        stderr.contains("dlmalloc: free(): double free or invalid pointer"),
        "{stderr}"
    );
    assert!(!stderr.contains("was not detected"), "{stderr}");
}
