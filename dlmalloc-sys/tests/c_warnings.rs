//! The C core compiles warning-free (`-Wall -Wextra -Wstrict-prototypes
//! -Werror`) as freestanding C99 in every configuration the build can
//! select, at -O0 and -O2 (some warnings only appear with optimisation),
//! and for 32-bit x86 when the compiler can target it.

use dlmalloc_platform_std as _;

use std::path::{Path, PathBuf};
use std::process::Command;

const CSRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/csrc");

const VARIANTS: [&[&str]; 11] = [
    &[],
    &["-DDL_FOOTERS=1"],
    &["-DDL_DEBUG=1"],
    &["-DDL_DEBUG=2"],
    &["-DDL_DEBUG=3"],
    &["-DDL_WEAK_HOOKS=1"],
    &["-DDL_WEAK_HOOKS=1", "-DDL_WEAK_MREMAP=1"],
    &[
        "-DDL_FOOTERS=1",
        "-DDL_DEBUG=3",
        "-DDL_WEAK_HOOKS=1",
        "-DDL_WEAK_MREMAP=1",
        "-DDL_DEFAULT_GRANULARITY=65536",
    ],
    // What the wasm32 platform builds (never-unmap, no-attached-heaps,
    // short-messages, single-threaded without atomics), alone and with the
    // checks the features keep.
    &[
        "-DDL_NEVER_UNMAP=1",
        "-DDL_NO_ATTACHED_HEAPS=1",
        "-DDL_SHORT_MESSAGES=1",
        "-DDL_SINGLE_THREAD=1",
    ],
    &["-DDL_NEVER_UNMAP=1", "-DDL_DEBUG=3", "-DDL_FOOTERS=1"],
    &["-DDL_SHORT_MESSAGES=1", "-DDL_INSECURE=1"],
];

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_string())
}

/// A private temporary directory per test (the tests run in parallel).
fn scratch_dir(label: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("dlmalloc-sys-cwarn-{}-{label}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the temporary directory");
    dir
}

/// Compiles dl_all.c with the strict flags plus `extra`; returns the
/// compiler's diagnostics on failure.
fn compile(extra: &[&str], object: &Path) -> Result<(), String> {
    let out = Command::new(cc())
        .args([
            "-std=c99",
            "-ffreestanding",
            "-Wall",
            "-Wextra",
            "-Wstrict-prototypes",
            "-Werror",
        ])
        .arg("-I")
        .arg(CSRC)
        .args(extra)
        .arg("-c")
        .arg("-o")
        .arg(object)
        .arg(format!("{CSRC}/dl_all.c"))
        .output()
        .map_err(|e| format!("could not run {}: {e}", cc()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn compile_all(base: &[&str], label: &str) {
    let dir = scratch_dir(label);
    let mut failures = Vec::new();
    for (i, defines) in VARIANTS.iter().enumerate() {
        for opt in ["-O0", "-O2"] {
            let mut flags: Vec<&str> = base.to_vec();
            flags.push(opt);
            flags.extend_from_slice(defines);
            let object = dir.join(format!("dl_all-{i}{opt}.o"));
            if let Err(diagnostics) = compile(&flags, &object) {
                failures.push(format!("{} {flags:?}:\n{diagnostics}", cc()));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{label}: the core does not compile cleanly:\n{}",
        failures.join("\n")
    );
}

#[test]
fn core_compiles_without_warnings() {
    compile_all(&[], "native");
}

#[test]
fn core_compiles_without_warnings_for_32_bit() {
    let dir = scratch_dir("probe32");
    let probe = dir.join("probe32.c");
    std::fs::write(&probe, "#include <stddef.h>\n#include <stdint.h>\nint probe(void) { return (int)sizeof(size_t); }\n")
        .expect("write the probe");
    let object = dir.join("probe32.o");
    let out = Command::new(cc())
        .args(["-m32", "-std=c99", "-ffreestanding", "-c", "-o"])
        .arg(&object)
        .arg(&probe)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    match out {
        Ok(out) if out.status.success() => compile_all(&["-m32"], "m32"),
        Ok(out) => eprintln!(
            "skipped -m32: {} -m32 cannot compile a trivial file: {}",
            cc(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .find(|line| line.contains("error"))
                .unwrap_or_default()
        ),
        Err(e) => eprintln!("skipped -m32: could not run {}: {e}", cc()),
    }
}
