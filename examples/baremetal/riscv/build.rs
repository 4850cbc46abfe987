//! Puts `memory.x` where the linker finds it and links with it and
//! riscv-rt's `link.x` (memory.x first: link.x uses its regions).
//! Also compiles the C code that calls malloc and free (../common/c_heap.c).

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tmemory.x");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    // The C code that calls malloc and free (dlmalloc-libc's).
    println!("cargo:rerun-if-changed=../common/c_heap.c");
    // The ABI and code model the core is built with (dlmalloc-sys's
    // build.rs): hard-float doubles, code anywhere in the address space.
    cc::Build::new()
        .file("../common/c_heap.c")
        .flag("-ffreestanding")
        .flag("-fno-builtin")
        .flag("-mabi=lp64d")
        .flag("-mcmodel=medany")
        .compile("c_heap");
}
