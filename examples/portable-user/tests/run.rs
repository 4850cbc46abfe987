//! Runs the compatibility program and checks that every check passed.

use std::process::Command;

#[test]
fn portable_dlmalloc_user_runs_unchanged() {
    let output = Command::new(env!("CARGO_BIN_EXE_portable-user"))
        .output()
        .expect("the portable-user program starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "portable-user failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("compat ok"),
        "no \"compat ok\" in:\n{stdout}"
    );
}
