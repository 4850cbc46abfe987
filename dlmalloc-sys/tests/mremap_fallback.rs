//! `custom_mremap` is optional. A platform without it (every
//! `portable-dlmalloc` platform) links unchanged and grows large blocks by
//! moving them into the heap (allocate, copy and free), where a block at the
//! top can grow in place next time; a platform with it grows them by
//! remapping; and a build without weak symbols never calls it. Each case is
//! a C program (`mremap_fallback.c`) with its own hooks, linked with the
//! core compiled here, so the Rust platform's hooks play no part.
#![cfg(target_os = "linux")]

use dlmalloc_platform_std as _;

use std::path::PathBuf;
use std::process::Command;

const CSRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/csrc");
const PROGRAM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mremap_fallback.c");

/// What the program reports: new mappings, remaps and bytes copied while a
/// block doubled from 1 MiB to 64 MiB.
#[derive(Debug, PartialEq)]
struct Growth {
    maps: usize,
    remaps: usize,
    copied: usize,
}

/// Compiles the core and the program with `defines`, runs it, and returns
/// its report; panics with the program's messages if it failed.
fn grow(label: &str, defines: &[&str]) -> Growth {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "dlmalloc-sys-mremap-{}-{label}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create the temporary directory");
    let binary = dir.join("mremap_fallback");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let build = Command::new(&cc)
        .args(["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror"])
        .args(defines)
        .arg("-I")
        .arg(CSRC)
        .arg("-o")
        .arg(&binary)
        .arg(PROGRAM)
        .arg(format!("{CSRC}/dl_all.c"))
        .output()
        .unwrap_or_else(|e| panic!("could not run the C compiler {cc:?}: {e}"));
    assert!(
        build.status.success(),
        "{cc} {defines:?} failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let run = Command::new(&binary).output().expect("run the program");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{label}: {:?}\n{stdout}{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    let numbers: Vec<usize> = stdout
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    let [maps, remaps, copied] = numbers[..] else {
        panic!("{label}: unexpected output {stdout:?}");
    };
    eprintln!("{label}: {maps} new mappings, {remaps} remaps, {copied} bytes copied");
    Growth {
        maps,
        remaps,
        copied,
    }
}

const MIB: usize = 1 << 20;

/// Growth without the hook: the heap grows by six new mappings (on Linux,
/// where a new mapping does not land right above the last), each doubling
/// copied.
const BY_COPYING: Growth = Growth {
    maps: 6,
    remaps: 0,
    copied: 63 * MIB,
};

/// Growth through the hook: six remaps, nothing mapped anew or copied.
const BY_REMAPPING: Growth = Growth {
    maps: 0,
    remaps: 6,
    copied: 0,
};

#[test]
fn without_the_hook_large_blocks_grow_by_copying() {
    let flags = ["-DWITH_MREMAP=0", "-DDL_WEAK_HOOKS=1", "-DDL_WEAK_MREMAP=1"];
    assert_eq!(grow("no-hook", &flags), BY_COPYING);
}

#[test]
fn with_the_hook_large_blocks_grow_by_remapping() {
    let flags = ["-DWITH_MREMAP=1", "-DDL_WEAK_HOOKS=1", "-DDL_WEAK_MREMAP=1"];
    assert_eq!(grow("hook", &flags), BY_REMAPPING);
}

#[test]
fn without_weak_symbols_the_hook_is_never_called() {
    let flags = ["-DWITH_MREMAP=1", "-DDL_WEAK_HOOKS=0", "-DDL_WEAK_MREMAP=0"];
    assert_eq!(grow("no-weak", &flags), BY_COPYING);
}
