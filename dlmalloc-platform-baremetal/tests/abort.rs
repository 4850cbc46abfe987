//! `custom_abort` panics with `dlmalloc: <msg> (<file>:<line>)`, showing a
//! null string as `?` and bytes that are not UTF-8 as U+FFFD. Each case
//! re-runs this test binary as a child that calls `custom_abort`; the
//! child's panic hook prints the message and exits with a known code (a
//! panic cannot unwind out of the `extern "C"` hook), and the parent reads
//! the child's stderr.

use std::env;
use std::ffi::CStr;

use dlmalloc_platform_baremetal::custom_abort;
use dlmalloc_test_support::run_child;

dlmalloc_platform_baremetal::no_static_arena!();

/// Set in the child's environment: tells the test to abort instead of
/// spawning.
const CHILD: &str = "DLMALLOC_PLATFORM_BAREMETAL_ABORT_CHILD";
/// The child's exit code once its panic hook has run.
const HOOK_RAN: i32 = 42;

/// In the child, calls `custom_abort(msg, file, line)`. In the parent, runs
/// `test_name` alone in a child and returns the panic message it printed.
fn abort_in_child(test_name: &str, msg: Option<&CStr>, file: Option<&CStr>, line: u32) -> String {
    panic_in_child(test_name, || {
        let msg = msg.map_or(std::ptr::null(), CStr::as_ptr);
        let file = file.map_or(std::ptr::null(), CStr::as_ptr);
        // SAFETY: both are null or NUL-terminated strings.
        unsafe { custom_abort(msg, file, line) };
    })
}

/// In the child, runs `action`, which must panic. In the parent, runs
/// `test_name` alone in a child and returns the panic message it printed.
fn panic_in_child(test_name: &str, action: impl FnOnce()) -> String {
    if env::var_os(CHILD).is_some() {
        std::panic::set_hook(Box::new(|info| {
            eprintln!("{info}");
            std::process::exit(HOOK_RAN);
        }));
        action();
        unreachable!("the child's action returned");
    }
    let output = run_child(test_name, CHILD, "1");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(HOOK_RAN),
        "the child should panic; it ended with {:?}, stderr:\n{stderr}",
        output.status
    );
    stderr
}

#[test]
fn reports_message_file_and_line() {
    let stderr = abort_in_child(
        "reports_message_file_and_line",
        Some(c"free of a chunk that is not in use"),
        Some(c"heap.c"),
        212,
    );
    assert!(
        stderr.contains("dlmalloc: free of a chunk that is not in use (heap.c:212)"),
        "{stderr}"
    );
}

#[test]
fn null_strings_show_as_question_marks() {
    let stderr = abort_in_child("null_strings_show_as_question_marks", None, None, 7);
    assert!(stderr.contains("dlmalloc: ? (?:7)"), "{stderr}");
}

#[test]
fn a_file_name_that_is_not_utf8_is_shown_lossily() {
    let file = c"dir/h\xffp\xc3.c";
    let stderr = abort_in_child(
        "a_file_name_that_is_not_utf8_is_shown_lossily",
        Some(c"corrupted size"),
        Some(file),
        u32::MAX,
    );
    assert!(
        stderr.contains("dlmalloc: corrupted size (dir/h\u{FFFD}p\u{FFFD}.c:4294967295)"),
        "{stderr}"
    );
}

#[test]
fn a_double_free_detected_by_the_core_panics() {
    let stderr = panic_in_child("a_double_free_detected_by_the_core_panics", || {
        let ram: &'static mut [u8] = Box::leak(vec![0u8; 256 << 10].into_boxed_slice());
        // SAFETY: leaked and used by nothing else; the block is freed twice
        // on purpose, which the core detects before touching anything.
        unsafe {
            dlmalloc_platform_baremetal::add_region(ram.as_mut_ptr(), ram.len());
            let p = dlmalloc_sys::dlmalloc(64);
            assert!(!p.is_null());
            dlmalloc_sys::dlfree(p);
            dlmalloc_sys::dlfree(p);
        }
    });
    let line = stderr
        .lines()
        .find(|line| line.starts_with("dlmalloc: "))
        .unwrap_or_else(|| panic!("no report in:\n{stderr}"));
    assert!(line.ends_with(')') && line.contains(".c:"), "{line}");
}
