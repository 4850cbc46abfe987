//! Cargo requires a build script for a package with a `links` key (the key
//! makes two platform crates in one build a Cargo error instead of a
//! duplicate-symbol link error). This one also tells the crate whether the
//! user chose the core's granularity at build time: then the platform
//! leaves it alone instead of setting the system's allocation granularity
//! (see src/granularity.rs).

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(dlmalloc_granularity_chosen)");
    // The same variables dlmalloc-sys's build script reads, in the same
    // order: the target-specific one first.
    let target = env::var("TARGET").unwrap_or_default().replace('-', "_");
    let names = [
        format!("DEFAULT_MMAP_GRANULARITY_{target}"),
        "DEFAULT_MMAP_GRANULARITY".to_string(),
    ];
    let mut chosen = false;
    for name in &names {
        println!("cargo:rerun-if-env-changed={name}");
        chosen |= env::var_os(name).is_some();
    }
    if chosen {
        println!("cargo:rustc-cfg=dlmalloc_granularity_chosen");
    }
}
