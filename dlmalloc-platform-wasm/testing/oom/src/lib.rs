//! Empty: this package exists for its test, `tests/out_of_memory.rs`, which
//! is linked with `--max-memory` (see `build.rs`).
#![no_std]
