//! Misuse that the allocator detects ends the process, so a test that
//! provokes it runs the misuse in a child: this test binary re-executed,
//! limited to one entry test, with an environment variable naming the case.
//! The entry test performs the case when the variable is set and does
//! nothing otherwise; the parent then asserts how the child died.
//!
//! "Aborted" is what the platform's `custom_abort` leaves behind: death by
//! `SIGABRT` on Unix, exit code 3 on Windows (where the Windows platform
//! ends the process with `TerminateProcess(.., 3)`, the code of the C
//! runtime's `abort()`).

use std::io::Read;
#[cfg(unix)]
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The signal `abort()` raises.
#[cfg(unix)]
pub const SIGABRT: i32 = libc::SIGABRT;

/// The exit code of a process ended by `abort()` or by the Windows
/// platform's `custom_abort` (its `ABORT_EXIT_CODE`).
#[cfg(windows)]
const ABORT_EXIT_CODE: i32 = 3;

/// Whether `status` is the end a `custom_abort` gives a process.
#[cfg(unix)]
fn aborted(status: &ExitStatus) -> bool {
    status.signal() == Some(SIGABRT)
}

/// Whether `status` is the end a `custom_abort` gives a process.
#[cfg(windows)]
fn aborted(status: &ExitStatus) -> bool {
    status.code() == Some(ABORT_EXIT_CODE)
}

/// How an aborted child ended, for the failure message.
#[cfg(unix)]
const ABORTED: &str = "killed by SIGABRT";

/// How an aborted child ended, for the failure message.
#[cfg(windows)]
const ABORTED: &str = "ended with the abort exit code 3";

/// What [`child_entry`] writes when a case returned instead of ending the
/// process: a misuse that went undetected.
pub const UNDETECTED: &str = "MISUSE NOT DETECTED";

/// The child's side of [`run_child`], for the entry test to call: when the
/// environment variable `var` is set, runs `run_case` with its value and, if
/// that returns, writes [`UNDETECTED`] and the case to stderr. Does nothing
/// in a normal test run.
pub fn child_entry(var: &str, run_case: impl FnOnce(&str)) {
    let Some(case) = std::env::var_os(var) else {
        return;
    };
    let case = case.to_string_lossy().into_owned();
    run_case(&case);
    eprintln!("{UNDETECTED}: case {case} returned normally");
}

/// How long a child may run: far more than any case needs, so only a child
/// that hangs (a checker looping on a corrupted heap, a lock never
/// released) reaches it.
pub const CHILD_DEADLINE: Duration = Duration::from_secs(120);

/// Re-runs this test binary in a child process limited to the test named
/// `entry`, with the environment variable `var` set to `case`, and returns
/// what the child did. The child writes no core file when it aborts (on
/// Unix, where it could); one still running after [`CHILD_DEADLINE`] is
/// killed, and the call panics with what it wrote.
pub fn run_child(entry: &str, var: &str, case: &str) -> Output {
    let exe = std::env::current_exe().expect("current_exe");
    let mut command = Command::new(exe);
    command
        .args([entry, "--exact", "--nocapture", "--test-threads=1"])
        .env(var, case)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and touches no parent state;
    // it keeps the expected SIGABRT from writing a core file.
    #[cfg(unix)]
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
    let mut child = command.spawn().expect("run the child test");
    // Drain both pipes while waiting, so a talkative child cannot block.
    let stdout = drain(child.stdout.take().expect("a piped stdout"));
    let stderr = drain(child.stderr.take().expect("a piped stderr"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if started.elapsed() > CHILD_DEADLINE {
            child.kill().expect("kill the hung child");
            child.wait().expect("reap the killed child");
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let stdout = stdout.join().expect("the stdout reader");
    let stderr = stderr.join().expect("the stderr reader");
    let Some(status) = status else {
        panic!(
            "case {case}: the child still ran after {CHILD_DEADLINE:?} and was killed; \
             stderr:\n{}",
            String::from_utf8_lossy(&stderr)
        );
    };
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Reads `pipe` to its end on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes)
            .expect("read the child's output");
        bytes
    })
}

/// Asserts that the child of `case` aborted: killed by `SIGABRT` on Unix,
/// ended with exit code 3 on Windows. Returns its standard error.
#[track_caller]
pub fn assert_aborted(case: &str, out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        aborted(&out.status),
        "case {case}: the child was not {ABORTED} but ended with {:?}\nstdout:\n{}\n\
         stderr:\n{stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Asserts that the child of `case` aborted (see [`assert_aborted`]) after
/// writing the platform's `dlmalloc: <msg> (<file>:<line>)` line, and that
/// `<msg>` contains `needle` (ASCII case ignored). Returns the message.
#[track_caller]
pub fn assert_aborted_with(case: &str, out: &Output, needle: &str) -> String {
    let stderr = assert_aborted(case, out);
    // Printed so the exact messages can be reviewed (run with --nocapture).
    eprintln!("case {case}: child {:?}, stderr:\n{stderr}", out.status);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("dlmalloc: "))
        .unwrap_or_else(|| panic!("case {case}: stderr lacks a `dlmalloc: ` line:\n{stderr}"));
    let message = line["dlmalloc: ".len()..]
        .rsplit_once(" (")
        .map(|(message, _)| message)
        .unwrap_or_else(|| panic!("case {case}: no ` (<file>:<line>)` in {line:?}"));
    assert!(
        message
            .to_ascii_lowercase()
            .contains(&needle.to_ascii_lowercase()),
        "case {case}: the abort message does not contain {needle:?}: {line}"
    );
    message.to_string()
}
