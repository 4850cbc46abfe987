//! Compiles the C core with the `cc` crate and passes the build
//! configuration to it. Reads the target from `CARGO_CFG_TARGET_*` (this
//! script runs on the build machine) and every variable at run time.

use std::env;

/// Default unit of system memory requests: 2 MiB.
const DEFAULT_GRANULARITY: u64 = 2 << 20;

fn main() {
    println!("cargo:rerun-if-changed=csrc");
    println!("cargo:rerun-if-changed=build.rs");

    let granularity = match read_var("DEFAULT_MMAP_GRANULARITY") {
        None => DEFAULT_GRANULARITY,
        Some((name, value)) => parse_granularity(&value).unwrap_or_else(|why| {
            panic!(
                "invalid {name}={value:?}: {why}. Accepted: a power of two of at least 4096, \
                 in decimal (2097152) or 0x hex (0x200000); unset means 2 MiB."
            )
        }),
    };

    let target_arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    // The debug levels are documented in csrc/dl_types.h. Only the levels
    // with a feature are defined here, so level 1 (cheap assertions alone)
    // stays reachable through CFLAGS=-DDL_DEBUG=1.
    let debug_level = if env::var_os("CARGO_FEATURE_DEBUG_HEAP_WALK").is_some() {
        Some("3")
    } else if env::var_os("CARGO_FEATURE_DEBUG").is_some() {
        Some("2")
    } else {
        None
    };

    let mut build = cc::Build::new();
    build
        .file("csrc/dl_all.c")
        .include("csrc")
        .flag_if_supported("-ffreestanding")
        .flag_if_supported("-fvisibility=hidden")
        .flag_if_supported("-Wstrict-prototypes")
        .warnings(true)
        .extra_warnings(true)
        // cc keeps frame pointers whenever debug info is on (as in the
        // benchmark's profile); malloc and free are short enough that the
        // frame's set-up is a cost worth measuring, so every profile gets
        // the code a plain release build gets.
        .force_frame_pointer(false)
        .define("DL_DEFAULT_GRANULARITY", granularity.to_string().as_str());
    // MSVC-style compilers (cl, clang-cl) have no C99 switch, and
    // `-std:c99` only earns a warning there.
    if target_env != "msvc" {
        build.std("c99");
    }
    if let Some(level) = debug_level {
        build.define("DL_DEBUG", level);
    }
    if env::var_os("CARGO_FEATURE_FOOTERS").is_some() {
        build.define("DL_FOOTERS", "1");
    }
    if env::var_os("CARGO_FEATURE_INSECURE").is_some() {
        build.define("DL_INSECURE", "1");
    }
    if env::var_os("CARGO_FEATURE_NEVER_UNMAP").is_some() {
        build.define("DL_NEVER_UNMAP", "1");
    }
    if env::var_os("CARGO_FEATURE_NO_ATTACHED_HEAPS").is_some() {
        build.define("DL_NO_ATTACHED_HEAPS", "1");
    }
    if env::var_os("CARGO_FEATURE_SHORT_MESSAGES").is_some() {
        build.define("DL_SHORT_MESSAGES", "1");
    }
    if target_arch == "wasm32" || target_arch == "wasm64" {
        // Compile the core with the wasm features the Rust code has (clang
        // leaves them off by default): with bulk memory its memcpy and
        // memset become single instructions instead of a call to a ~1 KB
        // function, and with atomics its code may live in shared memory.
        let features = env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
        let has = |feature: &str| features.split(',').any(|name| name == feature);
        for (feature, flag) in [("bulk-memory", "-mbulk-memory"), ("atomics", "-matomics")] {
            if has(feature) {
                build.flag(flag);
            }
        }
        // Without atomics a module has no shared memory, so no threads: the
        // core never calls the lock hooks (each call costs, and the
        // compiler cannot see that a platform's hooks do nothing).
        if !has("atomics") {
            build.define("DL_SINGLE_THREAD", "1");
        }
    }
    // Weak references to optional hooks need ELF or Mach-O; COFF has none.
    if target_os != "windows" && target_os != "uefi" && target_env != "msvc" {
        build.define("DL_WEAK_HOOKS", "1");
        // Bare metal has no mremap, and there an undefined weak symbol can
        // be out of reach of PC-relative code (RISC-V medany places code at
        // 0x8000_0000, the unresolved hook at 0): leave the reference out.
        if target_os != "none" {
            build.define("DL_WEAK_MREMAP", "1");
        }
    }
    if target_arch == "riscv64" && target_os == "none" {
        // The bare-metal RISC-V gcc defaults do not match Rust's objects.
        build.flag("-mabi=lp64d").flag("-mcmodel=medany");
    }
    // Under `-Zsanitizer=address` the core must be instrumented too, or ASan
    // misses its reads and writes. `cc` does this itself only from 1.9 on
    // (the `cc = "1.2"` requirement allows older ones); repeating the flag
    // is harmless. GCC must not merge identical variables then: the Rust
    // ASan runtime reports merged globals as ODR violations.
    let sanitizers = env::var("CARGO_CFG_SANITIZE").unwrap_or_default();
    if target_os == "linux" && sanitizers.split(',').any(|name| name == "address") {
        build
            .flag("-fsanitize=address")
            .flag_if_supported("-fno-ipa-icf-variables");
    }
    build.compile("dlmalloc");

    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:include={manifest}/csrc");
}

/// Reads `NAME_<target>` (target triple with `-` as `_`) before `NAME`,
/// registering both for rebuilds. Returns the name that was set and its value.
fn read_var(name: &str) -> Option<(String, String)> {
    let target = env::var("TARGET").unwrap_or_default().replace('-', "_");
    let specific = format!("{name}_{target}");
    for candidate in [specific, name.to_string()] {
        println!("cargo:rerun-if-env-changed={candidate}");
        if let Ok(value) = env::var(&candidate) {
            return Some((candidate, value));
        }
    }
    None
}

/// Parses a decimal or `0x` hexadecimal power of two of at least 4096.
fn parse_granularity(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse::<u64>(),
    };
    let value = parsed.map_err(|_| "not a decimal or 0x-hex number".to_string())?;
    if !value.is_power_of_two() {
        return Err(format!("{value} is not a power of two"));
    }
    if value < 4096 {
        return Err(format!("{value} is smaller than 4096"));
    }
    Ok(value)
}
