//! A double free ends in the platform's abort hook: the core's message on
//! stderr (`dlmalloc: free(): double free ...`) and exit code 3, with no
//! unwinding and no DLL detach code running. The test re-runs itself as a
//! child process that does the double free.

use std::alloc::{GlobalAlloc, Layout};
use std::env;
use std::process::Command;

use dlmalloc::DLMalloc;
use dlmalloc_platform_windows::ABORT_EXIT_CODE;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// Set in the child's environment: the child does the double free.
const CHILD: &str = "DLMALLOC_WINDOWS_DOUBLE_FREE_CHILD";

/// What the child runs: frees one block twice, on purpose.
fn double_free() {
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: non-zero size.
    let ptr = unsafe { GLOBAL.alloc(layout) };
    assert!(!ptr.is_null());
    // SAFETY: a live block of this layout.
    unsafe { GLOBAL.dealloc(ptr, layout) };
    eprintln!("freeing the block a second time");
    // SAFETY: not met, on purpose: `ptr` was freed above. Nothing has
    // reused the chunk, so the core's always-on check finds it not in use
    // and calls custom_abort before anything is corrupted.
    unsafe { GLOBAL.dealloc(ptr, layout) };
    eprintln!("the double free was not detected");
}

#[test]
fn a_double_free_ends_in_the_abort_hook() {
    if env::var_os(CHILD).is_some() {
        double_free();
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
