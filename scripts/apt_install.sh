# shellcheck shell=bash
# What scripts/wasm.sh and scripts/wasm_compare.sh share to install missing
# Debian packages. Source it; it defines:
#   apt_install SCRIPT LOG PACKAGE...
# which does nothing without packages, refuses (naming them) when not root
# on a machine with apt-get, else runs `apt-get update` once and installs
# them, showing apt's log (written to LOG) only when that fails.
apt_install() {
    local script=$1 log=$2
    shift 2
    [ $# -gt 0 ] || return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "$script: missing $*; run as root on Debian (apt-get), or install them" >&2
        exit 1
    fi
    echo "$script: apt-get install $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
}
