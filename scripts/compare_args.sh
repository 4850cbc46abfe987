# shellcheck shell=bash
# What the two comparison scripts, scripts/wasm_compare.sh and
# scripts/windows_bench.sh, share: their one optional argument and the
# check for a Rust target. Each then deals with a missing target its own
# way (wasm_compare installs it; windows_bench names what windows.sh
# installs). Source it; it defines:
#   quick_flag SCRIPT [ARG]   sets `quick` to --quick when ARG is --quick,
#                             to nothing when there is no ARG; any other
#                             ARG prints the usage and exits 2
#   has_target TARGET         whether rustup has the Rust target installed

# shellcheck disable=SC2034 # quick is read by the script that sources this
quick_flag() {
    local script=$1
    quick=
    case "${2:-}" in
        "") ;;
        --quick) quick=--quick ;;
        *)
            echo "usage: scripts/$script.sh [--quick]" >&2
            exit 2
            ;;
    esac
}

has_target() {
    rustup target list --installed | grep -qx "$1"
}
