//! Keeps the FFI honest: compiles a tiny C program against the public header
//! with the system C compiler, and compares what it prints (the size and
//! field offsets of `struct mallinfo`, the `M_*` parameters, the error
//! numbers) with the Rust declarations.

use dlmalloc_platform_std as _;

use core::mem::{offset_of, size_of};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use dlmalloc_sys::{EINVAL, ENOMEM, M_GRANULARITY, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, MallInfo};

const FIELDS: [&str; 10] = [
    "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
    "keepcost",
];

fn program() -> String {
    let mut src = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"dlmalloc.h\"\n\
         int main(void) {\n\
         printf(\"sizeof_size_t %lu\\n\", (unsigned long)sizeof(size_t));\n\
         printf(\"sizeof_mallinfo %lu\\n\", (unsigned long)sizeof(struct mallinfo));\n\
         printf(\"alignof_mallinfo %lu\\n\", (unsigned long)offsetof(struct { char c; struct mallinfo m; }, m));\n",
    );
    for field in FIELDS {
        src.push_str(&format!(
            "printf(\"offsetof_{field} %lu\\n\", (unsigned long)offsetof(struct mallinfo, {field}));\n\
             printf(\"sizeof_{field} %lu\\n\", (unsigned long)sizeof(((struct mallinfo *)0)->{field}));\n"
        ));
    }
    for constant in [
        "M_TRIM_THRESHOLD",
        "M_GRANULARITY",
        "M_MMAP_THRESHOLD",
        "DL_ENOMEM",
        "DL_EINVAL",
    ] {
        src.push_str(&format!(
            "printf(\"{constant} %ld\\n\", (long)({constant}));\n"
        ));
    }
    src.push_str("return 0;\n}\n");
    src
}

/// Builds and runs the program; returns name -> value.
fn c_values() -> HashMap<String, i64> {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("dlmalloc-sys-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the temporary directory");
    let source = dir.join("layout.c");
    let binary = dir.join("layout");
    std::fs::write(&source, program()).expect("write layout.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let include = concat!(env!("CARGO_MANIFEST_DIR"), "/csrc");
    let mut command = Command::new(&cc);
    // The C sizes must be those of the Rust target, not of the host `cc`
    // builds for by default: a 32-bit x86 target (i686) is usually tested on
    // an x86_64 host, whose compiler needs `-m32` for 32-bit code.
    if cfg!(all(
        target_pointer_width = "32",
        target_arch = "x86",
        target_os = "linux"
    )) {
        command.arg("-m32");
    }
    let build = command
        .arg("-std=c99")
        .arg("-I")
        .arg(include)
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .output()
        .unwrap_or_else(|e| panic!("could not run the C compiler {cc:?}: {e}"));
    assert!(
        build.status.success(),
        "{cc} failed on the layout program:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let run = Command::new(&binary)
        .output()
        .expect("run the layout program");
    assert!(
        run.status.success(),
        "the layout program failed: {:?}",
        run.status
    );
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(run.stdout)
        .expect("ASCII output")
        .lines()
        .map(|line| {
            let (name, value) = line.split_once(' ').expect("`name value` lines");
            (name.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

fn rust_offset(field: &str) -> usize {
    match field {
        "arena" => offset_of!(MallInfo, arena),
        "ordblks" => offset_of!(MallInfo, ordblks),
        "smblks" => offset_of!(MallInfo, smblks),
        "hblks" => offset_of!(MallInfo, hblks),
        "hblkhd" => offset_of!(MallInfo, hblkhd),
        "usmblks" => offset_of!(MallInfo, usmblks),
        "fsmblks" => offset_of!(MallInfo, fsmblks),
        "uordblks" => offset_of!(MallInfo, uordblks),
        "fordblks" => offset_of!(MallInfo, fordblks),
        "keepcost" => offset_of!(MallInfo, keepcost),
        other => panic!("unknown field {other}"),
    }
}

#[test]
fn rust_declarations_match_the_c_header() {
    let c = c_values();
    let get = |name: &str| -> i64 {
        *c.get(name)
            .unwrap_or_else(|| panic!("the C program did not print {name}"))
    };
    assert_eq!(
        get("sizeof_size_t"),
        size_of::<usize>() as i64,
        "size_t is not usize"
    );
    assert_eq!(
        get("sizeof_mallinfo"),
        size_of::<MallInfo>() as i64,
        "size of struct mallinfo"
    );
    assert_eq!(
        get("alignof_mallinfo"),
        core::mem::align_of::<MallInfo>() as i64,
        "alignment of struct mallinfo"
    );
    for field in FIELDS {
        assert_eq!(
            get(&format!("offsetof_{field}")),
            rust_offset(field) as i64,
            "offset of mallinfo.{field}"
        );
        assert_eq!(
            get(&format!("sizeof_{field}")),
            size_of::<usize>() as i64,
            "size of {field}"
        );
    }
    assert_eq!(get("M_TRIM_THRESHOLD"), i64::from(M_TRIM_THRESHOLD));
    assert_eq!(get("M_GRANULARITY"), i64::from(M_GRANULARITY));
    assert_eq!(get("M_MMAP_THRESHOLD"), i64::from(M_MMAP_THRESHOLD));
    assert_eq!(get("DL_ENOMEM"), i64::from(ENOMEM));
    assert_eq!(get("DL_EINVAL"), i64::from(EINVAL));
}
