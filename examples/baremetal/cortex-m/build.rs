//! Puts `memory.x` where the linker finds it and links with cortex-m-rt's
//! `link.x` (which includes `memory.x`).
//! Also compiles the C code that calls malloc and free (../common/c_heap.c).

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    // The C code that calls malloc and free (dlmalloc-libc's).
    println!("cargo:rerun-if-changed=../common/c_heap.c");
    cc::Build::new()
        .file("../common/c_heap.c")
        .flag("-ffreestanding")
        .flag("-fno-builtin")
        .compile("c_heap");
}
