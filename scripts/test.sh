#!/usr/bin/env bash
# Runs every test of the workspace: the default build, then the C core with
# its internal assertions over the randomized model test, then with footers,
# then the nightly-only Allocator impl. Bare-metal and 32-bit checks live in
# scripts/cross.sh.
# This is the README's test command; .ci/run calls it first.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== cargo test --workspace"
cargo test --workspace

echo "== C core with full debug assertions (feature debug) over the randomized test"
cargo test -p dlmalloc-sys --features debug --test random_model --test random_model_heaps --test stress_threads

echo "== C core that never unmaps (feature never-unmap, what wasm32 builds)"
cargo test -p dlmalloc-sys --features never-unmap --test never_unmap --test random_model

echo "== C core with footers (feature footers)"
cargo test -p dlmalloc-sys --features footers

echo "== safe crate over a core with footers and assertions"
cargo test -p dlmalloc-portable --features footers,debug

echo "== core::alloc::Allocator for Mspace (feature nightly, nightly toolchain)"
cargo +nightly test -p dlmalloc-portable --features nightly
