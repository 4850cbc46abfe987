//! Links this package's tests with a 16 MiB memory maximum, so they can
//! run the heap out of memory quickly: `memory.grow` fails past it.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-tests=--max-memory={}", 16 << 20);
    }
}
