//! Exists only because Cargo requires a build script for a package with a
//! `links` key; the key is what makes two platform crates in one build a
//! Cargo error instead of a duplicate-symbol link error.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
