//! Compiles the C test programs (c/*.c) into a static library that the
//! test binaries link, next to dlmalloc-libc's rlib.

fn main() {
    println!("cargo:rerun-if-changed=c");
    cc::Build::new()
        .file("c/api.c")
        .file("c/threads.c")
        .flag_if_supported("-Wall")
        .flag_if_supported("-Wextra")
        .flag_if_supported("-Wno-unused-result")
        // The calls under test must reach the library, not be folded away
        // by a compiler that knows what malloc does.
        .flag_if_supported("-fno-builtin")
        .compile("libc_api_tests");
    println!("cargo:rustc-link-lib=pthread");
}
