# shellcheck shell=bash
# The step runner that scripts/cross.sh and scripts/wasm.sh share: each
# prints a heading per step, records each step's outcome in `summary`, and
# counts the failed ones in `failures`, so a script runs every step and
# prints one summary line per step at the end. Source it; it defines:
#   step NAME...           prints the heading of a step
#   passed NAME            records NAME as passed
#   run NAME COMMAND...    runs a step, records its outcome, goes on either way

summary=()
failures=0

step() {
    echo
    echo "== $*"
}

passed() {
    summary+=("ok    $1")
}

run() {
    local name=$1
    shift
    step "$name"
    echo "+ $*"
    if "$@"; then
        summary+=("ok    $name")
    else
        summary+=("FAIL  $name")
        failures=$((failures + 1))
    fi
}
