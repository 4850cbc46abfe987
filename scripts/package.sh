#!/usr/bin/env bash
# Packages every product crate as the registry would receive it, and builds
# each package from its tarball alone (cargo package's verification): a file
# missing from an `include` list, a path dependency without a version, or a
# dev-dependency cycle fails here rather than at publish time.
# The crates of the main workspace are packaged together, so each verifies
# against the others' fresh packages. The bare-metal platform is its own
# workspace, and so are the wasm and Windows ones (they share `links` with
# the hosted platform); their dependency on dlmalloc-sys, not yet in the
# registry, is patched to the local folder.
# Usage: scripts/package.sh
set -euo pipefail
cd "$(dirname "$0")/.."

main_crates=(dlmalloc-sys dlmalloc-portable dlmalloc-platform-std dlmalloc-libc)

quiet_tests() { grep -v '^warning: ignoring \(test\|example\|benchmark\)' || true; }

# cargo verifies a package against the others' fresh tarballs through a
# local registry, and extracts each into $CARGO_HOME/registry/src/<id>/ once
# per version: a copy left by an earlier run of this script, from older
# sources with the same version number, would be used instead of the fresh
# one. Remove our crates' copies (never a crates.io download: those live
# under index.crates.io-*).
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
for dir in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/; do
    for crate in "${main_crates[@]}" dlmalloc-platform-baremetal dlmalloc-platform-wasm dlmalloc-platform-windows; do
        rm -rf "$dir$crate-$version"
    done
done

echo "== cargo package ${main_crates[*]}"
args=()
for crate in "${main_crates[@]}"; do args+=(-p "$crate"); done
cargo package --allow-dirty "${args[@]}" 2>&1 | quiet_tests

# The wasm platform builds only for wasm32 (its workspace's config sets
# clang for the C core there), the Windows one only for Windows (mingw-w64,
# which scripts/windows.sh installs).
for platform in dlmalloc-platform-baremetal "dlmalloc-platform-wasm --target wasm32-wasip1" \
    "dlmalloc-platform-windows --target x86_64-pc-windows-gnu"; do
    read -r dir target_args <<<"$platform"
    echo "== cargo package $dir"
    # shellcheck disable=SC2086 # target_args is empty or two words
    (cd "$dir" &&
        cargo package --allow-dirty $target_args \
            --config 'patch.crates-io.dlmalloc-sys.path="../dlmalloc-sys"' 2>&1 | quiet_tests)
done

# Each package ships its licence texts and its README.
ships() { # CRATE LIST: the list holds every file a package must ship
    for file in LICENSE-APACHE LICENSE-MIT README.md Cargo.toml; do
        grep -qx "$file" <<<"$2" || { echo "package: $1 lacks $file" >&2; exit 1; }
    done
}
for crate in "${main_crates[@]}"; do
    ships "$crate" "$(cargo package --list --allow-dirty -p "$crate" 2>/dev/null)"
done
for platform in dlmalloc-platform-baremetal dlmalloc-platform-wasm dlmalloc-platform-windows; do
    ships "$platform" "$(cd "$platform" && cargo package --list --allow-dirty 2>/dev/null)"
done
echo "package: every product crate packages and builds from its tarball"
